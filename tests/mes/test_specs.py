"""A revision's drawing spec is refused with a clear message when it is wrong, and nothing is stored."""

import copy

import pytest

from mes.catalog import services as catalog
from mes.core.errors import RuleViolation
from tests.factories import BRACKET_SPEC, database_snapshot

pytestmark = pytest.mark.django_db


def broken(edit):
    spec = copy.deepcopy(BRACKET_SPEC)
    edit(spec)
    return spec


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("not a dict", "JSON object"),
        (broken(lambda s: s.pop("tolerances")), "tolerances for"),
        (broken(lambda s: s["tolerances"].pop("hole_position")), "hole_position"),
        (broken(lambda s: s["outline"].update(length=-80)), "invalid"),
        (broken(lambda s: s["holes"][0].update(x=79.0)), "invalid"),  # hole outside the outline
        (broken(lambda s: s["holes"][1].update(x=12.0)), "invalid"),  # overlaps H1
    ],
    ids=["not-object", "no-tolerances", "missing-tolerance", "negative", "hole-outside", "overlap"],
)
def test_a_wrong_drawing_is_refused_and_nothing_is_stored(shop, spec, says):
    before = database_snapshot()
    with pytest.raises(RuleViolation) as raised:
        catalog.part_revision_create(shop.supervisor, part=shop.part, revision="Z", spec=spec, material="PLA")
    assert says in raised.value.message and raised.value.field == "spec"
    assert database_snapshot() == before


def test_a_valid_drawing_is_stored_normalised(shop):
    rev = catalog.part_revision_create(
        shop.supervisor, part=shop.part, revision="Z", spec=BRACKET_SPEC, material="PLA"
    )
    assert rev.spec["outline"]["length"] == 80.0 and len(rev.spec["holes"]) == 3
