"""Stock and traceability pages: counts by part, status and location; serial search; genealogy."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from mes.core.roles import Role
from mes.inventory import services as inventory
from mes.inventory.models import Location, Nonconformance
from mes.repairs import services as repairs
from tests.web.test_inspection_pages import calibration, inspect  # noqa: F401 (fixture)
from tests.web.test_tickets import block, client_for, file_ticket, text_of

pytestmark = pytest.mark.django_db


# --- roles ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", [Role.MACHINIST, Role.ENGINEER, Role.INSPECTOR, Role.SUPERVISOR])
def test_every_person_opens_the_stock_pages(shop, role):
    item = inventory.stock_item_receive(shop.supervisor, revision=shop.revision, quantity=1)[0]
    client = client_for(shop.user(role))
    for url in (
        reverse("inventory:stock"),
        reverse("inventory:search") + "?q=BRK",
        reverse("inventory:serial", args=[item.serial]),
    ):
        assert client.get(url).status_code == 200, url


def test_stations_and_strangers_do_not(shop):
    item = inventory.stock_item_receive(shop.supervisor, revision=shop.revision, quantity=1)[0]
    url = reverse("inventory:serial", args=[item.serial])
    assert client_for(shop.station_user).get(url).status_code == 403
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and reverse("login") in anonymous["Location"]


# --- counts -----------------------------------------------------------------------------------------------
def _rows(html: str) -> list[list[str]]:
    """The stock table's body rows as lists of cell texts."""
    table = block(html, "stock-table")
    body = table[table.index("<tbody>") : table.index("</tbody>")]
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


def test_the_counts_table_by_part_location_and_status_is_filterable(shop):
    shelf, bin_ = Location.objects.create(code="SHELF-1", name="Shelf"), Location.objects.create(code="BIN-2")
    inventory.stock_item_receive(shop.supervisor, revision=shop.revision, quantity=3, location=shelf)
    inventory.stock_item_receive(shop.supervisor, revision=shop.revision, quantity=1, location=bin_)
    ticket = file_ticket(shop)
    repairs.part_request_create(shop.engineer, ticket=ticket, revision=shop.revision, quantity=2)
    client = client_for(shop.machinist)
    # columns: part, rev, location, awaiting inspection, accepted, reserved, issued, rejected, scrapped, total
    rows = _rows(client.get(reverse("inventory:stock")).content.decode())
    assert rows == [
        ["BRK-080 Bracket", "A", "BIN-2", "", "1", "", "", "", "", "1"],
        ["BRK-080 Bracket", "A", "SHELF-1", "", "1", "2", "", "", "", "3"],
    ]
    rows = _rows(client.get(reverse("inventory:stock"), {"status": "reserved"}).content.decode())
    assert rows == [["BRK-080 Bracket", "A", "SHELF-1", "", "", "2", "", "", "", "2"]]
    rows = _rows(client.get(reverse("inventory:stock"), {"location": bin_.pk}).content.decode())
    assert [row[2] for row in rows] == ["BIN-2"]
    page = client.get(reverse("inventory:stock"), {"status": "scrapped"}).content.decode()
    assert "No units match." in page


# --- search -----------------------------------------------------------------------------------------------
def test_search_by_exact_serial_goes_to_its_page_and_by_prefix_lists_matches(shop):
    items = inventory.stock_item_receive(shop.supervisor, revision=shop.revision, quantity=3)
    client = client_for(shop.engineer)
    page = client.get(reverse("inventory:stock")).content.decode()
    assert 'name="q"' in block(page, "serial-search")
    url = reverse("inventory:search")
    exact = client.get(url, {"q": items[1].serial.lower()})
    assert exact.status_code == 302 and exact["Location"] == reverse(
        "inventory:serial", args=[items[1].serial]
    )
    listed = client.get(url, {"q": "BRK-080-A"}).content.decode()
    assert all(item.serial in block(listed, "search-results") for item in items)
    assert "No serial is or begins with" in client.get(url, {"q": "XYZ"}).content.decode()
    assert "Type a serial number" in client.get(url, {"q": " "}).content.decode()


# --- genealogy --------------------------------------------------------------------------------------------
def test_the_serial_page_shows_the_whole_genealogy_and_every_change(shop, calibration):  # noqa: F811
    inspection = inspect(shop, calibration, "accepted")
    item = inspection.stock_item
    item.refresh_from_db()
    request = item.reserved_for
    repairs.part_request_issue(shop.engineer, request=request)
    job = item.job
    page = client_for(shop.machinist).get(reverse("inventory:serial", args=[item.serial])).content.decode()

    assert item.serial in block(page, "serial-heading")
    facts = block(page, "genealogy")
    assert f"PR-{request.pk:05d}" in block(facts, "reserved-for")
    assert f"DT-{request.ticket_id:05d}" in block(facts, "reserved-for")
    assert f"DT-{request.ticket_id:05d}" in text_of(facts, "issued-to")
    assert text_of(facts, "work-order") == f"WO-{job.work_order_id:05d}"
    assert f"J-{job.pk:05d}" in text_of(facts, "job")
    assert text_of(facts, "machine") == "Mill-1"
    program = block(facts, "program")
    assert "milled" in program and shop.mill_program.sha256 in program
    assert "AL-1" in text_of(facts, "feedstock-lot")
    assert text_of(facts, "operator") == "sam"

    evidence = block(page, f"inspection-{inspection.pk}")
    assert "Accepted" in evidence and "measurement-H2.diameter" in evidence
    assert reverse("inspection:image", args=[inspection.pk, "annotated"]) in evidence
    assert text_of(evidence, "pipeline-version") == "vision-pipeline/test-7"

    history = block(page, "history")
    for who, change in [
        ("sam", "made by Job J-"),
        ("station-1", "awaiting_inspection -&gt; accepted"),
        ("station-1", "accepted -&gt; reserved"),
        ("eli", "reserved -&gt; issued"),
    ]:
        assert re.search(rf"<td>{who}</td>.*?{change}", history), (who, change)
    assert history.count('data-testid="history-entry"') == item.history.count()


def test_the_serial_page_shows_nonconformances_and_their_changes(shop, calibration):  # noqa: F811
    item = inspect(shop, calibration, "rejected").stock_item
    ncr = Nonconformance.objects.get(stock_item=item)
    inventory.nonconformance_dispose(shop.inspector, ncr=ncr, disposition="scrap", note="void in the web")
    page = client_for(shop.engineer).get(reverse("inventory:serial", args=[item.serial])).content.decode()
    record = block(page, f"ncr-{ncr.pk}")
    assert "H2.diameter out of tolerance" in record and "Scrap" in record and "void in the web" in record
    history = block(page, "history")
    assert f"NCR-{ncr.pk:05d}" in history and "rejected -&gt; scrapped: void in the web" in history
    assert re.search(r"<td>ines</td>\s*<td class=\"mono\">NCR-\d+</td>\s*<td>changed: Scrap</td>", history)


def test_an_unknown_serial_is_not_found(shop):
    assert client_for(shop.engineer).get(reverse("inventory:serial", args=["NOPE-1"])).status_code == 404


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_serial_page_reads_a_constant_number_of_queries(shop, calibration):  # noqa: F811
    simple = inspect(shop, calibration, "accepted").stock_item

    busy = inspect(shop, calibration, "rejected").stock_item
    ncr = Nonconformance.objects.get(stock_item=busy)
    inventory.nonconformance_dispose(shop.inspector, ncr=ncr, disposition="rework", note="deburr")
    inspect(shop, calibration, "rejected", item=busy)
    ncr = Nonconformance.objects.get(stock_item=busy, disposition="pending")
    inventory.nonconformance_dispose(shop.inspector, ncr=ncr, disposition="rework", note="again")
    latest = inspect(shop, calibration, "unable", item=busy)
    from vision import services as vision

    vision.inspection_override(
        shop.inspector, inspection=latest, verdict="accepted", reason="measured by hand"
    )
    busy.refresh_from_db()
    assert busy.inspections.count() == 4 and busy.nonconformances.count() == 2
    assert busy.history.count() >= simple.history.count() + 4

    client = client_for(shop.inspector)
    counts = [_queries(client, reverse("inventory:serial", args=[item.serial])) for item in (simple, busy)]
    assert counts[0] == counts[1], counts
