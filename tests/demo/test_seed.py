"""The demo shop seeds once and again without duplicating anything."""

import io

import pytest
from django.core.management import call_command

from mes.catalog.models import Part, Program
from mes.inventory.models import StockItem
from mes.production.models import Job, Machine
from mes.repairs.models import DamageTicket
from tests.factories import database_snapshot

pytestmark = pytest.mark.django_db


def test_seed_demo_builds_the_shop_and_is_idempotent():
    call_command("seed_demo", stdout=io.StringIO())
    assert Machine.objects.filter(machine_type="cnc_mill", firmware="grbl").count() == 2
    assert Machine.objects.filter(machine_type="fdm_printer", firmware="marlin").count() == 2
    assert 4 <= Part.objects.count() <= 6
    assert Program.objects.filter(released=True).count() >= Part.objects.count()
    assert DamageTicket.objects.filter(status="in_progress").count() == 3
    assert DamageTicket.objects.filter(severity="life_safety").exists()
    assert StockItem.objects.filter(status="reserved").exists()
    assert Job.objects.filter(state="queued").exists()
    before = database_snapshot()
    call_command("seed_demo", stdout=io.StringIO())
    assert database_snapshot() == before
