"""The permission matrix: every service, called by every role, is allowed or refused as PERMISSIONS says."""

import pytest
from django.utils import timezone

from mes.catalog import services as catalog
from mes.core.errors import NotPermitted
from mes.core.models import WorkerHeartbeat
from mes.core.roles import PERMISSIONS, Role
from mes.inventory import services as inventory
from mes.inventory.models import Nonconformance
from mes.production import services as production
from mes.production.models import Machine
from mes.repairs import services as repairs
from tests.factories import BRACKET_SPEC, MILL_PROGRAM, database_snapshot
from tests.vision import stations
from vision import services as inspections

pytestmark = pytest.mark.django_db


def _ticket(shop, severity="critical"):
    return repairs.ticket_file(
        shop.supervisor, sector=shop.sector, module=shop.module, severity=severity, description="x"
    )


def _job(shop):
    shop.printer.state = "maintenance"
    shop.printer.save()
    request = repairs.part_request_create(
        shop.supervisor, ticket=_ticket(shop), revision=shop.revision, quantity=1
    )
    return request.work_orders.get().jobs.get()


def _running(shop):
    job = _job(shop)
    production.job_start(shop.supervisor, job=job, lot=shop.blanks)
    return job


def _made_item(shop):
    job = _running(shop)
    return production.job_finish(shop.supervisor, job=job)[0]


def _rejected(shop):
    return inspections.inspection_record(
        shop.supervisor, stock_item=_made_item(shop), verdict="rejected", reason="burr"
    )


def _unreleased_revision(shop):
    return catalog.part_revision_create(
        shop.supervisor, part=shop.part, revision="B", spec=BRACKET_SPEC, material="PLA"
    )


def _unreleased_program(shop):
    return catalog.program_create(
        shop.supervisor,
        revision=shop.revision,
        name="v2",
        machine_type="cnc_mill",
        firmware="grbl",
        material="Al 6061",
        gcode_text=MILL_PROGRAM + "(v2)\n",
    )


def _calibrated_station(shop):
    stations.configure(shop.station)
    stations.true_calibration(shop.station, shop.supervisor)
    return shop.station


def _resolved(shop):
    ticket = _ticket(shop)
    return repairs.ticket_resolve(shop.supervisor, ticket=ticket, resolution="fixed")


def _reserved_request(shop):
    inventory.stock_item_receive(shop.supervisor, revision=shop.revision, quantity=1)
    return repairs.part_request_create(
        shop.supervisor, ticket=_ticket(shop), revision=shop.revision, quantity=1
    )


def _short_work_order(shop):
    """A work order left short: its job was cancelled while no machine could take a replacement."""
    job = _job(shop)
    Machine.objects.update(state="maintenance")
    production.job_cancel(shop.supervisor, job=job)
    Machine.objects.update(state="idle")
    return job.work_order


def _errored_machine(shop):
    job = _running(shop)
    production.job_fail(shop.supervisor, job=job, reason="alarm")
    return job.machine


def _paused(shop):
    job = _running(shop)
    return production.job_pause(shop.supervisor, job=job)


# action -> prepare(shop) returning call(actor); preparation runs as a supervisor, before the snapshot.
def _errored_mill_on_a_live_cable(shop):
    """The mill in error after an alarm, on a cable whose worker is alive (unlock and home may run)."""
    Machine.objects.filter(pk=shop.mill.pk).update(
        port_url="socket://127.0.0.1:7101", state="error", state_reason="ALARM:1 Hard limit triggered."
    )
    WorkerHeartbeat.objects.create(worker="mill@host", queue=shop.mill.queue_name, seen_at=timezone.now())
    return Machine.objects.get(pk=shop.mill.pk)


def _running_on_a_cable(shop):
    Machine.objects.filter(pk=shop.mill.pk).update(port_url="socket://127.0.0.1:7101")
    WorkerHeartbeat.objects.create(worker="mill@host", queue=shop.mill.queue_name, seen_at=timezone.now())
    return _running(shop)


SCENARIOS = {
    "part_create": lambda shop: lambda a: catalog.part_create(a, number="N-1", name="n", kind="other"),
    "part_revision_create": lambda shop: (
        lambda a: catalog.part_revision_create(
            a, part=shop.part, revision="C", spec=BRACKET_SPEC, material="PLA"
        )
    ),
    "part_revision_release": lambda shop: (
        lambda rev: lambda a: catalog.part_revision_release(a, revision=rev)
    )(_unreleased_revision(shop)),
    "program_create": lambda shop: (
        lambda a: catalog.program_create(
            a,
            revision=shop.revision,
            name="v3",
            machine_type="cnc_mill",
            firmware="grbl",
            gcode_text=MILL_PROGRAM + "(v3)\n",
        )
    ),
    "program_release": lambda shop: (lambda p: lambda a: catalog.program_release(a, program=p))(
        _unreleased_program(shop)
    ),
    "ticket_file": lambda shop: (
        lambda a: repairs.ticket_file(
            a, sector=shop.sector, module=shop.module, severity="routine", description="x"
        )
    ),
    "ticket_assign": lambda shop: (
        lambda t: lambda a: repairs.ticket_assign(a, ticket=t, assignee=shop.engineer)
    )(_ticket(shop)),
    "ticket_resolve": lambda shop: (lambda t: lambda a: repairs.ticket_resolve(a, ticket=t, resolution="ok"))(
        _ticket(shop)
    ),
    "ticket_close": lambda shop: (lambda t: lambda a: repairs.ticket_close(a, ticket=t))(_resolved(shop)),
    "part_request_create": lambda shop: (
        lambda t: lambda a: repairs.part_request_create(a, ticket=t, revision=shop.revision, quantity=1)
    )(_ticket(shop)),
    "part_request_cancel": lambda shop: (
        lambda r: lambda a: repairs.part_request_cancel(a, request=r, reason="not needed")
    )(_reserved_request(shop)),
    "part_request_issue": lambda shop: (lambda r: lambda a: repairs.part_request_issue(a, request=r))(
        _reserved_request(shop)
    ),
    "work_order_dispatch": lambda shop: (
        lambda wo: lambda a: production.work_order_dispatch(a, work_order=wo)
    )(_short_work_order(shop)),
    "feedstock_lot_receive": lambda shop: (
        lambda a: production.feedstock_lot_receive(a, code="NEW", material="PLA", quantity=100, unit="g")
    ),
    "job_start": lambda shop: (lambda j: lambda a: production.job_start(a, job=j, lot=shop.blanks))(
        _job(shop)
    ),
    "job_pause": lambda shop: (lambda j: lambda a: production.job_pause(a, job=j))(_running(shop)),
    "job_resume": lambda shop: (lambda j: lambda a: production.job_resume(a, job=j))(_paused(shop)),
    "job_cancel": lambda shop: (lambda j: lambda a: production.job_cancel(a, job=j))(_job(shop)),
    "job_finish": lambda shop: (lambda j: lambda a: production.job_finish(a, job=j))(_running(shop)),
    "job_fail": lambda shop: (lambda j: lambda a: production.job_fail(a, job=j, reason="x"))(_running(shop)),
    "machine_clear_error": lambda shop: (
        lambda m: lambda a: production.machine_clear_error(a, machine=m, note="checked")
    )(_errored_machine(shop)),
    "machine_unlock": lambda shop: (lambda m: lambda a: production.machine_unlock(a, machine=m))(
        _errored_mill_on_a_live_cable(shop)
    ),
    "machine_home": lambda shop: (lambda m: lambda a: production.machine_home(a, machine=m))(
        _errored_mill_on_a_live_cable(shop)
    ),
    "machine_override": lambda shop: (
        lambda j: lambda a: production.machine_override(a, machine=j.machine, kind="feed", change="+10")
    )(_running_on_a_cable(shop)),
    "machine_lot_load": lambda shop: (
        lambda a: production.machine_lot_load(a, machine=shop.mill, lot=shop.blanks)
    ),
    "machine_emergency_stop": lambda shop: (
        lambda j: lambda a: production.machine_emergency_stop(a, machine=j.machine)
    )(_running(shop)),
    "stock_item_receive": lambda shop: (
        lambda a: inventory.stock_item_receive(a, revision=shop.revision, quantity=1)
    ),
    "inspection_record": lambda shop: (
        lambda item: lambda a: inspections.inspection_record(a, stock_item=item, verdict="accepted")
    )(_made_item(shop)),
    "inspection_override": lambda shop: (
        lambda i: (
            lambda a: inspections.inspection_override(
                a, inspection=i, verdict="accepted", reason="re-measured by hand"
            )
        )
    )(_rejected(shop)),
    "nonconformance_dispose": lambda shop: (
        lambda n: lambda a: inventory.nonconformance_dispose(a, ncr=n, disposition="scrap", note="x")
    )(Nonconformance.objects.get(inspection=_rejected(shop))),
    "stock_item_decide": lambda shop: (
        lambda i: (
            lambda a: inspections.stock_item_decide(a, serial=i.stock_item.serial, action="scrap", reason="x")
        )
    )(_rejected(shop)),
    "station_configure": lambda shop: (
        lambda a: inspections.station_configure(a, station=shop.station, callback_url="http://st1.shop/cb")
    ),
    "station_calibrate": lambda shop: (
        lambda st: lambda a: inspections.station_calibrate(a, station=st, images=list(stations.board_views()))
    )(stations.configure(shop.station)),
    "inspection_request": lambda shop: (
        lambda st, item: (
            lambda a: inspections.inspection_request(
                a, station=st, stock_item=item, image_bytes=stations.part_photo("bracket")
            )
        )
    )(_calibrated_station(shop), _made_item(shop)),
}


def test_every_service_has_a_scenario():
    assert set(SCENARIOS) == set(PERMISSIONS)


@pytest.mark.parametrize("role", list(Role), ids=str)
@pytest.mark.parametrize("action", sorted(PERMISSIONS))
def test_permission_matrix(shop, action, role):
    call = SCENARIOS[action](shop)
    actor = shop.user(role)
    if role in PERMISSIONS[action]:
        call(actor)  # allowed: the service runs to the end
    else:
        before = database_snapshot()
        with pytest.raises(NotPermitted):
            call(actor)
        assert database_snapshot() == before


def test_anonymous_and_inactive_users_hold_no_role(shop):
    from django.contrib.auth.models import AnonymousUser

    shop.engineer.is_active = False
    for nobody in (AnonymousUser(), shop.engineer):
        with pytest.raises(NotPermitted):
            repairs.ticket_file(
                nobody, sector=shop.sector, module=shop.module, severity="routine", description="x"
            )
