"""The shop terminal: tiles, queues, pre-flight, every action and its refusals, and a bounded query count."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from machines.models import MachineCommand, MachineTelemetry
from mes.catalog.models import MachineType
from mes.core.errors import IllegalTransition, InsufficientFeedstock, RuleViolation
from mes.core.roles import Role
from mes.inventory.models import StockItem
from mes.production import actions as production_actions
from mes.production import services as production
from mes.production.models import FeedstockLot, Job, Machine
from mes.repairs import services as repairs
from tests.factories import MILL_ENVELOPE, PRINTER_ENVELOPE, database_snapshot

pytestmark = pytest.mark.django_db

# Queries a terminal page or its live fragment may make, whatever the size of the shop (session, user,
# roles, then the board's four: machines, current jobs, queues, life-safety banner).
QUERY_BOUND = 10


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def queue_job(shop, machine: Machine, *, severity: str = "critical", needed_by=None) -> Job:
    """A job queued on ``machine`` through the real request -> work order -> dispatch path."""
    others = list(Machine.objects.exclude(pk=machine.pk).values_list("pk", "state"))
    Machine.objects.exclude(pk=machine.pk).update(state="maintenance")  # dispatch only to ``machine``
    try:
        ticket = repairs.ticket_file(
            shop.supervisor, sector=shop.sector, module=shop.module, severity=severity, description="x"
        )
        request = repairs.part_request_create(
            shop.supervisor, ticket=ticket, revision=shop.revision, quantity=1, needed_by=needed_by
        )
    finally:
        for pk, state in others:
            Machine.objects.filter(pk=pk).update(state=state)
    return request.work_orders.get().jobs.get()


def running_job(shop, machine=None) -> Job:
    machine = machine or shop.mill
    job = queue_job(shop, machine)
    lot = shop.blanks if machine.machine_type == MachineType.CNC_MILL else shop.pla
    production.job_start(shop.supervisor, job=job, lot=lot)
    return Job.objects.get(pk=job.pk)


def refresh(obj):
    obj.refresh_from_db()
    return obj


def tile_html(page: str, machine_name: str) -> str:
    """The HTML of one machine's tile (up to the next tile or the end of the grid)."""
    start = page.index(f'data-testid="machine-{machine_name}"')
    end = page.find("<article", start)
    return page[start : end if end != -1 else len(page)]


def post(client, url, data=None, **extra):
    return client.post(url, data or {}, **extra)


# --- who sees the terminal ----------------------------------------------------------------------------
@pytest.mark.parametrize("role", list(Role), ids=str)
def test_only_machinists_and_supervisors_open_the_terminal_pages(shop, role):
    job = queue_job(shop, shop.mill)
    urls = [
        reverse("terminal:home"),
        reverse("terminal:board"),
        reverse("terminal:machine", args=[shop.mill.pk]),
        reverse("terminal:job-start", args=[job.pk]),
        reverse("terminal:job-cancel", args=[job.pk]),
        reverse("terminal:machine-clear-error", args=[shop.mill.pk]),
        reverse("terminal:machine-load-lot", args=[shop.mill.pk]),
    ]
    client = client_for(shop.user(role))
    for url in urls:
        response = client.get(url)
        if role in (Role.MACHINIST, Role.SUPERVISOR):
            assert response.status_code == 200, url
        else:
            assert response.status_code == 403, url
            assert "This page is for" in response.content.decode()


@pytest.mark.parametrize("role", [Role.ENGINEER, Role.INSPECTOR, Role.STATION], ids=str)
def test_other_roles_cannot_act_from_the_terminal(shop, role):
    job = running_job(shop)
    before = database_snapshot()
    response = client_for(shop.user(role)).post(reverse("terminal:job-pause", args=[job.pk]))
    assert response.status_code == 403
    assert database_snapshot() == before


def test_actions_need_a_post_with_a_csrf_token(shop):
    job = running_job(shop)
    client = client_for(shop.machinist)
    assert client.get(reverse("terminal:job-pause", args=[job.pk])).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(shop.machinist)
    assert strict.post(reverse("terminal:job-pause", args=[job.pk])).status_code == 403
    assert refresh(job).state == "running"


# --- the board ----------------------------------------------------------------------------------------
def test_home_shows_a_tile_per_machine_with_state_job_lot_telemetry_and_queue(shop):
    job = running_job(shop)
    Job.objects.filter(pk=job.pk).update(progress=0.25, lines_acknowledged=3, lines_total=12)
    shop.mill_program.__class__.objects.filter(pk=shop.mill_program.pk).update(estimated_seconds=400)
    MachineTelemetry.objects.create(
        machine=shop.mill, job=job, firmware_state="Run", position=[12.5, 4, -1.25], updated_at=timezone.now()
    )
    MachineTelemetry.objects.create(
        machine=shop.printer,
        firmware_state="printing",
        temperatures={"T0": [205.2, 210.0], "B": [59.8, 60.0]},
        message="",
        updated_at=timezone.now(),
    )
    next_up = queue_job(shop, shop.printer)
    page = client_for(shop.machinist).get(reverse("terminal:home")).content.decode()

    mill = tile_html(page, "Mill-1")
    assert re.search(r'data-testid="machine-state">running<', mill)
    assert f"J-{job.pk:05d}" in mill and "BRK-080@A" in mill and "Critical" in mill
    assert re.search(r'<progress data-testid="job-progress" value="25" max="100"[^>]*>25%</progress>', mill)
    assert "5 min 00 s left" in mill  # 400 s x (1 - 0.25)
    assert "X 12.500 Y 4.000 Z -1.250" in mill
    assert "Lot AL-1 (Al 6061): <strong>10 blank</strong> left" in mill  # deducted when the run completes
    for testid in ("pause", "cancel", "estop-machine"):
        assert f'data-testid="{testid}"' in mill
    for testid in ("resume", "start-next", "confirm-removal", "clear-error"):
        assert f'data-testid="{testid}"' not in mill

    printer = tile_html(page, "Printer-1")
    assert re.search(r'data-testid="machine-state">idle<', printer)
    assert "Hotend 205/210 °C · Bed 60/60 °C" in printer
    assert f'data-testid="job-J-{next_up.pk:05d}"' in printer
    start = reverse("terminal:job-start", args=[next_up.pk])
    assert re.search(rf'data-testid="start-next" href="{start}"', printer)
    # The live poll asks for the fragment every second; the E-STOP is outside the region it replaces.
    assert 'hx-trigger="every 1s' in page and reverse("terminal:board") in page
    live = mill[mill.index('class="tile-live"') : mill.index('class="tile-msg"')]
    assert "estop-machine" not in live


def test_stale_telemetry_and_part_quantities_read_as_on_every_other_page(shop, settings):
    """The tile's fragment is Jinja2 (mes/jinja2.py): times in the shop's zone, quantities as floatformat."""
    settings.TIME_ZONE = "Asia/Kolkata"  # UTC+05:30 all year: an hour-and-minute shift shows any slip
    reported = timezone.now().replace(hour=10, minute=4, second=5, microsecond=0) - timezone.timedelta(days=1)
    MachineTelemetry.objects.create(
        machine=shop.printer, firmware_state="idle", message="Door <open>", updated_at=reported
    )
    FeedstockLot.objects.filter(pk=shop.pla.pk).update(quantity_on_hand=Decimal("412.2500"))
    production.machine_lot_load(shop.supervisor, machine=shop.printer, lot=shop.pla)
    page = client_for(shop.machinist).get(reverse("terminal:home")).content.decode()
    printer = tile_html(page, "Printer-1")
    assert 'class="tile-telemetry stale"' in printer
    assert "last report 15:34:05" in printer
    assert "Door &lt;open&gt;" in printer  # escaped
    assert "Lot PLA-1 (PLA): <strong>412.250 g</strong> left" in printer  # floatformat:"-3"


def test_the_queue_is_in_priority_order_and_life_safety_raises_a_red_banner(shop):
    routine = queue_job(shop, shop.mill, severity="routine")
    critical = queue_job(shop, shop.mill, severity="critical")
    life = queue_job(shop, shop.mill, severity="life_safety")
    client = client_for(shop.machinist)
    page = client.get(reverse("terminal:home")).content.decode()
    assert re.search(r'class="banner banner-life"[^>]*>Life-safety work queued on Mill-1:', page)
    mill = tile_html(page, "Mill-1")
    order = [mill.index(f'data-testid="job-J-{job.pk:05d}"') for job in (life, critical, routine)]
    assert order == sorted(order)
    start = reverse("terminal:job-start", args=[life.pk])
    assert f'data-testid="start-next" href="{start}"' in mill

    full = client.get(reverse("terminal:machine", args=[shop.mill.pk])).content.decode()
    rows = re.findall(r'<tr data-testid="job-(J-\d+)"', full)
    assert rows == [f"J-{job.pk:05d}" for job in (life, critical, routine)]

    # Cancelling the job keeps the demand (a replacement is queued); cancelling the request ends it.
    production.job_cancel(shop.supervisor, job=life)
    assert "banner-life" in client.get(reverse("terminal:home")).content.decode()
    request = life.work_order.part_request
    repairs.part_request_cancel(shop.engineer, request=request, reason="the module was sealed off")
    assert "banner-life" not in client.get(reverse("terminal:home")).content.decode()


def test_the_live_fragment_swaps_tiles_and_banner_out_of_band(shop):
    queue_job(shop, shop.printer, severity="life_safety")
    client = client_for(shop.machinist)
    known = f"{shop.mill.pk},{shop.printer.pk}"
    response = client.get(reverse("terminal:board"), {"known": known})
    body = response.content.decode()
    assert response.status_code == 200
    for machine in (shop.mill, shop.printer):
        assert re.search(rf'id="live-{machine.pk}"[^>]* hx-swap-oob="true"', body)
    assert 'id="life-banner" hx-swap-oob="true"' in body and "Printer-1" in body
    assert "estop-machine" not in body  # the E-STOP is never re-rendered under a finger

    Machine.objects.create(name="Mill-2", machine_type=MachineType.CNC_MILL, firmware="grbl", **MILL_ENVELOPE)
    stale = client.get(reverse("terminal:board"), {"known": known})
    assert stale["HX-Refresh"] == "true"  # a machine was added: reload the page rather than guess

    one = client.get(reverse("terminal:board"), {"machine": shop.mill.pk, "known": shop.mill.pk})
    assert f'id="live-{shop.mill.pk}"' in one.content.decode()
    assert f'id="live-{shop.printer.pk}"' not in one.content.decode()


def test_the_live_fragment_resends_only_tiles_that_changed(shop):
    job = running_job(shop)
    client = client_for(shop.machinist)
    page = client.get(reverse("terminal:home")).content.decode()
    versions = dict(re.findall(r'data-machine="(\d+)" data-version="(\w+)"', page))
    assert set(versions) == {str(shop.mill.pk), str(shop.printer.pk)}
    have = ",".join(f"{pk}:{version}" for pk, version in versions.items())

    unchanged = client.get(reverse("terminal:board"), {"have": have}).content.decode()
    assert 'id="life-banner"' in unchanged and "tile-live" not in unchanged

    Job.objects.filter(pk=job.pk).update(progress=0.5)  # the runner reported progress
    moved = client.get(reverse("terminal:board"), {"have": have}).content.decode()
    assert f'id="live-{shop.mill.pk}"' in moved and f'id="live-{shop.printer.pk}"' not in moved
    assert 'value="50" max="100"' in moved


# --- pre-flight and start -----------------------------------------------------------------------------
def test_preflight_shows_the_program_the_lot_and_the_right_checkbox(shop):
    Machine.objects.filter(pk=shop.printer.pk).update(loaded_lot=shop.pla)
    job = queue_job(shop, shop.printer)
    page = client_for(shop.machinist).get(reverse("terminal:job-start", args=[job.pk])).content.decode()
    assert f'data-testid="program-sha">{shop.print_program.sha256}<' in page
    assert 'data-testid="program-name">printed<' in page
    assert re.search(rf'<option value="{shop.pla.pk}" selected>PLA-1 · PLA · 500 g on hand', page)
    assert "AL-1" not in page  # blanks are not PLA
    assert 'name="bed_clear"' in page and 'name="stock_zeroed"' not in page
    assert re.search(r'<label class="check" for="id_bed_clear">.*Bed clear', page)
    assert 'data-testid="confirm-start"' in page

    mill_job = queue_job(shop, shop.mill)
    mill_page = client_for(shop.machinist).get(reverse("terminal:job-start", args=[mill_job.pk]))
    html = mill_page.content.decode()
    assert 'name="stock_zeroed"' in html and 'name="bed_clear"' not in html
    assert "Stock clamped and zeroed" in html


def test_start_from_the_preflight_runs_the_job(shop):
    job = queue_job(shop, shop.mill)
    response = client_for(shop.machinist).post(
        reverse("terminal:job-start", args=[job.pk]), {"lot": shop.blanks.pk, "stock_zeroed": "on"}
    )
    assert response.status_code == 302 and response["Location"] == reverse("terminal:home")
    job = refresh(job)
    assert job.state == "running" and job.operator == shop.machinist and job.feedstock_lot == shop.blanks
    assert refresh(shop.mill).state == "running" and refresh(shop.mill).loaded_lot == shop.blanks


def test_start_with_the_box_unticked_is_refused_next_to_the_box(shop):
    job = queue_job(shop, shop.printer)
    before = database_snapshot()
    response = client_for(shop.machinist).post(
        reverse("terminal:job-start", args=[job.pk]), {"lot": shop.pla.pk}
    )
    assert response.status_code == 422
    page = response.content.decode()
    box = page.index('name="bed_clear"')
    error = page.index("Clear the bed, then tick this box.")
    assert 0 < error - box < 400  # the error sits right under the box
    assert database_snapshot() == before


def test_start_with_too_little_feedstock_shows_the_services_words_at_the_lot(shop):
    job = queue_job(shop, shop.mill)
    short = production.feedstock_lot_receive(
        shop.supervisor, code="AL-2", material="Al 6061", quantity=Decimal("0.5"), unit="blank"
    )
    before = database_snapshot()
    response = client_for(shop.machinist).post(
        reverse("terminal:job-start", args=[job.pk]), {"lot": short.pk, "stock_zeroed": "on"}
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert re.search(r'id="lot-error"[^>]*>Lot AL-2 \(Al 6061\) has 0.500 blank left; the job needs', page)
    assert database_snapshot() == before


def test_start_refused_by_an_interlock_is_shown_next_to_the_start_button(shop):
    job = queue_job(shop, shop.mill)
    Machine.objects.filter(pk=shop.mill.pk).update(state="maintenance")
    before = database_snapshot()
    response = client_for(shop.machinist).post(
        reverse("terminal:job-start", args=[job.pk]), {"lot": shop.blanks.pk, "stock_zeroed": "on"}
    )
    assert response.status_code == 422
    page = response.content.decode()
    refusal = page.index("Mill-1 is maintenance; it must be idle to start a job.")
    assert page.index('data-testid="confirm-start"') < refusal
    assert 'data-testid="start-refusal"' in page
    assert database_snapshot() == before


# --- one-touch tile actions ---------------------------------------------------------------------------
@pytest.mark.parametrize("htmx", [False, True], ids=["form", "htmx"])
def test_pause_then_resume(shop, htmx):
    job = running_job(shop)
    client = client_for(shop.machinist)
    extra = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = post(client, reverse("terminal:job-pause", args=[job.pk]), **extra)
    if htmx:
        assert response.status_code == 200 and "paused on Mill-1" in response.content.decode()
        assert response["HX-Trigger"] == "terminal-refresh"
    else:
        assert response.status_code == 302
    assert refresh(job).state == "paused" and refresh(shop.mill).state == "paused"
    page = client.get(reverse("terminal:home")).content.decode()
    assert 'data-testid="resume"' in tile_html(page, "Mill-1")
    post(client, reverse("terminal:job-resume", args=[job.pk]), **extra)
    assert refresh(job).state == "running" and refresh(shop.mill).state == "running"
    assert list(MachineCommand.objects.values_list("command", flat=True)) == ["pause", "resume"]


def test_pausing_a_job_that_is_not_running_is_refused_on_its_tile(shop):
    job = queue_job(shop, shop.mill)
    client = client_for(shop.machinist)
    before = database_snapshot()
    response = post(client, reverse("terminal:job-pause", args=[job.pk]))
    assert response.status_code == 422
    mill = tile_html(response.content.decode(), "Mill-1")
    assert re.search(
        r'class="tile-msg"[^>]*><p class="field-error" role="alert">Job J-\d+ cannot be paused while it is',
        mill,
    )
    htmx = post(client, reverse("terminal:job-pause", args=[job.pk]), HTTP_HX_REQUEST="true")
    assert (
        htmx.status_code == 422
        and "cannot be paused while it is queued: it must be running" in htmx.content.decode()
    )
    assert database_snapshot() == before


def test_resuming_a_running_job_is_refused_on_the_machine_page(shop):
    job = running_job(shop)
    before = database_snapshot()
    response = post(
        client_for(shop.machinist), reverse("terminal:job-resume", args=[job.pk]), {"page": "machine"}
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert "<h1>Mill-1</h1>" in page and "cannot be resumed while it is running: it must be paused" in page
    assert database_snapshot() == before


def test_confirm_part_removed_books_the_part(shop):
    job = running_job(shop)
    production_actions.do_job_complete_run(job.pk)
    client = client_for(shop.machinist)
    mill = tile_html(client.get(reverse("terminal:home")).content.decode(), "Mill-1")
    assert 'data-testid="confirm-removal"' in mill and 'data-testid="start-next"' not in mill
    response = post(client, reverse("terminal:job-finish", args=[job.pk]))
    assert response.status_code == 302
    assert refresh(job).state == "finished"
    item = StockItem.objects.get(job=job)
    assert item.status == "awaiting_inspection" and item.operator == shop.supervisor


def test_confirm_removal_of_a_queued_job_is_refused(shop):
    job = queue_job(shop, shop.mill)
    before = database_snapshot()
    response = post(client_for(shop.machinist), reverse("terminal:job-finish", args=[job.pk]))
    assert response.status_code == 422
    assert "cannot be finished while it is queued" in tile_html(response.content.decode(), "Mill-1")
    assert database_snapshot() == before


def test_estop_on_a_tile_stops_that_machine_only(shop):
    job = running_job(shop)
    client = client_for(shop.machinist)
    mill = tile_html(client.get(reverse("terminal:home")).content.decode(), "Mill-1")
    assert f'action="{reverse("production:estop-machine", args=[shop.mill.pk])}"' in mill
    response = post(client, reverse("production:estop-machine", args=[shop.mill.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 503 and "Mill-1 unreachable" in response.content.decode()
    assert refresh(shop.mill).state == "error" and refresh(job).state == "failed"
    assert refresh(shop.printer).state == "idle"
    mill = tile_html(client.get(reverse("terminal:home")).content.decode(), "Mill-1")
    assert 'data-testid="clear-error"' in mill and "emergency stop pressed by" in mill


# --- cancel (confirmation step) -----------------------------------------------------------------------
def test_cancel_asks_for_confirmation_then_cancels(shop):
    job = running_job(shop)
    client = client_for(shop.machinist)
    url = reverse("terminal:job-cancel", args=[job.pk])
    page = client.get(url).content.decode()
    assert 'data-testid="confirm"' in page and "Cancel J-" in page
    assert refresh(job).state == "running"  # looking at the question changes nothing
    response = client.post(url)
    assert response.status_code == 302
    assert refresh(job).state == "cancelled" and refresh(shop.mill).state == "idle"


def test_cancelling_a_finished_job_is_refused_next_to_the_confirm_button(shop):
    job = running_job(shop)
    production.job_finish(shop.supervisor, job=job)
    before = database_snapshot()
    response = client_for(shop.machinist).post(reverse("terminal:job-cancel", args=[job.pk]))
    assert response.status_code == 422
    page = response.content.decode()
    assert page.index('data-testid="confirm"') < page.index("cannot be cancelled while it is finished")
    assert database_snapshot() == before


# --- clear error --------------------------------------------------------------------------------------
def test_clearing_an_error_needs_a_note(shop):
    job = running_job(shop)
    production.job_fail(shop.supervisor, job=job, reason="spindle stalled")
    client = client_for(shop.machinist)
    url = reverse("terminal:machine-clear-error", args=[shop.mill.pk])
    assert "spindle stalled" in client.get(url).content.decode()
    before = database_snapshot()
    response = client.post(url, {"note": "   "})
    assert response.status_code == 422
    page = response.content.decode()
    assert page.index('name="note"') < page.index("Say what you checked or fixed.")
    assert database_snapshot() == before
    response = client.post(url, {"note": "Cleared chips, spindle turns freely"})
    assert response.status_code == 302
    assert refresh(shop.mill).state == "idle" and refresh(shop.mill).state_reason == ""


def test_clearing_an_interrupted_job_marks_it_failed(shop):
    job = running_job(shop)
    production_actions.do_job_interrupt(job, reason="the machine's worker stopped reporting")
    client = client_for(shop.machinist)
    mill = tile_html(client.get(reverse("terminal:home")).content.decode(), "Mill-1")
    assert re.search(r'data-testid="machine-state">error<', mill)
    assert 'data-testid="clear-error"' in mill and "interrupted" in mill.lower()
    client.post(reverse("terminal:machine-clear-error", args=[shop.mill.pk]), {"note": "homed, part removed"})
    assert refresh(job).state == "failed" and refresh(shop.mill).state == "idle"


def test_clearing_a_machine_not_in_error_is_refused(shop):
    before = database_snapshot()
    response = client_for(shop.machinist).post(
        reverse("terminal:machine-clear-error", args=[shop.mill.pk]), {"note": "looked fine"}
    )
    assert response.status_code == 422
    assert "Mill-1 cannot be cleared while it is idle: it must be in error" in response.content.decode()
    assert database_snapshot() == before


# --- load a lot ---------------------------------------------------------------------------------------
def test_load_lot_offers_suitable_lots_and_loads_one(shop):
    client = client_for(shop.machinist)
    url = reverse("terminal:machine-load-lot", args=[shop.printer.pk])
    page = client.get(url).content.decode()
    assert "PLA-1 · PLA · 500 g on hand" in page and "AL-1" not in page
    response = client.post(url, {"lot": shop.pla.pk})
    assert response.status_code == 302
    assert refresh(shop.printer).loaded_lot == shop.pla
    printer = tile_html(client.get(reverse("terminal:home")).content.decode(), "Printer-1")
    assert "Lot PLA-1 (PLA): <strong>500 g</strong> left" in printer


def test_load_lot_refusals_leave_the_machine_as_it_was(shop):
    client = client_for(shop.machinist)
    url = reverse("terminal:machine-load-lot", args=[shop.printer.pk])
    before = database_snapshot()
    wrong = client.post(url, {"lot": shop.blanks.pk})  # not offered: blanks are not a printer's material
    assert wrong.status_code == 422 and "Select a valid choice" in wrong.content.decode()
    missing = client.post(url, {})
    assert missing.status_code == 422 and "Choose the lot you loaded." in missing.content.decode()
    assert database_snapshot() == before

    running_job(shop)  # the mill now runs from AL-1
    other = production.feedstock_lot_receive(
        shop.supervisor, code="AL-2", material="Al 6061", quantity=Decimal(5), unit="blank"
    )
    before = database_snapshot()
    busy = client.post(reverse("terminal:machine-load-lot", args=[shop.mill.pk]), {"lot": other.pk})
    assert busy.status_code == 422
    assert re.search(
        r'class="field-error" role="alert">Job J-\d+ is running on Mill-1', busy.content.decode()
    )
    assert database_snapshot() == before


def test_machine_lot_load_service_rules(shop):
    with pytest.raises(RuleViolation, match="programs for Printer-1 use pla"):
        production.machine_lot_load(shop.machinist, machine=shop.printer, lot=shop.blanks)
    production.machine_lot_load(shop.machinist, machine=shop.printer, lot=shop.pla)
    with pytest.raises(RuleViolation, match="already loaded"):
        production.machine_lot_load(shop.machinist, machine=shop.printer, lot=shop.pla)
    empty = production.feedstock_lot_receive(
        shop.supervisor, code="PLA-0", material="PLA", quantity=1, unit="g"
    )
    FeedstockLot.objects.filter(pk=empty.pk).update(quantity_on_hand=0)
    with pytest.raises(InsufficientFeedstock, match="empty"):
        production.machine_lot_load(shop.machinist, machine=shop.printer, lot=empty)


# --- a bounded number of queries ----------------------------------------------------------------------
def _grow_shop(shop, machines: int) -> None:
    """Add machines until there are ``machines``, each with a lot, telemetry and jobs in every state
    the terminal shows (running, paused, completed, interrupted, several queued, some life-safety)."""
    template = queue_job(shop, shop.mill)  # a valid work order to hang bulk-made jobs on
    work_order = template.work_order
    existing = Machine.objects.count()
    for i in range(existing, machines):
        is_mill = i % 2 == 0
        lot = FeedstockLot.objects.create(
            code=f"LOT-{i:03d}",
            material="Al 6061" if is_mill else "PLA",
            unit="blank" if is_mill else "g",
            quantity_received=100,
            quantity_on_hand=100,
        )
        machine = Machine.objects.create(
            name=f"M-{i:03d}",
            machine_type=MachineType.CNC_MILL if is_mill else MachineType.FDM_PRINTER,
            firmware="grbl" if is_mill else "marlin",
            loaded_lot=lot,
            state=["running", "paused", "idle", "error", "idle"][i % 5],
            state_reason="alarm 2" if i % 5 == 3 else "",
            **(MILL_ENVELOPE if is_mill else PRINTER_ENVELOPE),
        )
        MachineTelemetry.objects.create(
            machine=machine,
            firmware_state="Run",
            position=[1, 2, 3] if is_mill else None,
            temperatures=None if is_mill else {"T0": [200, 210], "B": [60, 60]},
            message="ALARM:2" if i % 5 == 3 else "",
            updated_at=timezone.now(),
        )
        program = shop.mill_program if is_mill else shop.print_program
        current = {0: "running", 1: "paused", 2: "completed", 3: "interrupted"}.get(i % 5)
        jobs = [
            Job(
                work_order=work_order,
                machine=machine,
                program=program,
                severity_rank=rank,
                state="queued",
            )
            for rank in (2, 1, 0 if i % 7 == 0 else 2, 1)
        ]
        if current:
            jobs.append(
                Job(
                    work_order=work_order,
                    machine=machine,
                    program=program,
                    severity_rank=1,
                    state=current,
                    progress=0.5,
                    lines_total=10,
                    lines_acknowledged=5,
                    started_at=timezone.now(),
                    feedstock_lot=lot,
                )
            )
        Job.objects.bulk_create(jobs)


def _queries(client, url, params=None) -> int:
    client.get(url, params or {})  # warm: the first request of a session may set things up
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(captured.captured_queries)


def test_terminal_and_live_fragment_use_a_constant_number_of_queries(shop):
    client = client_for(shop.machinist)
    home, board = reverse("terminal:home"), reverse("terminal:board")
    _grow_shop(shop, 3)
    small = (_queries(client, home), _queries(client, board))
    small_page = client.get(home).content.decode()
    _grow_shop(shop, 30)
    large = (_queries(client, home), _queries(client, board))
    large_page = client.get(home).content.decode()

    assert small == large, (small, large)
    assert max(large) <= QUERY_BOUND
    # The large board really shows more: 30 tiles, running jobs, queues, the life-safety banner.
    tiles = re.compile(r'data-testid="machine-(?!state")')
    assert len(tiles.findall(small_page)) == 3 and len(tiles.findall(large_page)) == 30
    assert large_page.count('data-testid="job-progress"') > small_page.count('data-testid="job-progress"')
    assert "banner-life" in large_page


class CountingCache:
    """The real cache, counting the calls the terminal makes to it."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []

    def __getattr__(self, name):
        self.calls.append(name)
        return getattr(self.inner, name)


def test_a_page_reads_and_writes_the_tile_cache_once_whatever_the_number_of_tiles(shop, monkeypatch):
    """With a cache server (CACHE_URL) a round trip per tile would cost more than the render it saves."""
    from django.core.cache import cache

    from mes.production.templatetags import terminal

    _grow_shop(shop, 12)
    spy = CountingCache(cache)
    monkeypatch.setattr(terminal, "cache", spy)
    client = client_for(shop.machinist)
    cache.clear()
    cold = client.get(reverse("terminal:home")).content.decode()
    assert spy.calls == ["get_many", "set_many"]
    spy.calls.clear()
    warm = client.get(reverse("terminal:home")).content.decode()
    assert (
        spy.calls == ["get_many"] and warm.count('class="tile-live"') == cold.count('class="tile-live"') == 12
    )
    spy.calls.clear()
    assert client.get(reverse("terminal:board")).status_code == 200  # no version held: every tile again
    assert spy.calls == ["get_many", "set_many"]  # out-of-band copies are cached apart from the page's


def _csrf_inputs(html: str) -> set[str]:
    return set(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', html))


def test_cached_tiles_carry_each_persons_own_csrf_token_and_show_a_change_at_once(shop):
    from django.middleware.csrf import _unmask_cipher_token

    job = running_job(shop)
    mara, sam = client_for(shop.machinist), client_for(shop.supervisor)
    first = mara.get(reverse("terminal:home")).content.decode()
    second = sam.get(reverse("terminal:home")).content.decode()  # the tiles come from the cache now
    for page, client in ((first, mara), (second, sam)):
        secret = client.cookies["csrftoken"].value
        tokens = _csrf_inputs(page)
        assert tokens and {_unmask_cipher_token(t) for t in tokens} == {secret}  # the cookie holds the secret
    # The runner reports progress: the tile's version changes and the next poll shows the new figure.
    Job.objects.filter(pk=job.pk).update(lines_total=200, lines_acknowledged=50, progress=0.25)
    board = mara.get(reverse("terminal:board")).content.decode()
    assert "25%" in board and "50 of 200 lines" in board


def test_the_terminal_says_a_software_stop_is_not_the_machines_own(shop):
    page = client_for(shop.machinist).get(reverse("terminal:home")).content.decode()
    assert 'data-testid="own-stop-note"' in page and "press the red button on the machine itself" in page


def test_after_a_shop_wide_stop_one_note_clears_the_machines_ticked_one_by_one(shop, settings):
    settings.MES_ESTOP_CONFIRM_S = 0
    production.machines_emergency_stop_all(shop.machinist)
    client = client_for(shop.machinist)
    home = client.get(reverse("terminal:home")).content.decode()
    assert 'data-testid="clear-several"' in home
    url = reverse("terminal:machines-clear-error")
    page = client.get(url).content.decode()
    assert 'data-testid="check-Mill-1"' in page and 'data-testid="check-Printer-1"' in page

    refused = client.post(url, {"note": "walked the shop"})  # nothing ticked: nothing cleared
    assert refused.status_code == 422 and "Tick each machine you checked." in refused.content.decode()
    assert refresh(shop.mill).state == "error"

    done = client.post(url, {"machines": [shop.mill.pk, shop.printer.pk], "note": "spindle and nozzle clear"})

    assert done.status_code == 302
    assert refresh(shop.mill).state == refresh(shop.printer).state == "idle"
    assert (
        refresh(shop.mill).history.first().history_change_reason == "error -> idle: spindle and nozzle clear"
    )


def test_clearing_several_is_all_or_none(shop, settings):
    settings.MES_ESTOP_CONFIRM_S = 0
    production.machine_emergency_stop(shop.machinist, machine=shop.mill)
    before = database_snapshot()

    with pytest.raises(IllegalTransition, match="Printer-1 cannot be cleared while it is idle"):
        production.machines_clear_error(shop.machinist, machines=[shop.mill, shop.printer], note="checked")

    assert database_snapshot() == before


# --- the machine's own word ---------------------------------------------------------------------------


def test_a_pause_the_printer_asked_for_shows_its_reason_and_a_lost_link_says_so(shop):
    job = running_job(shop, shop.printer)
    production_actions.do_job_pause_by_machine(
        job.pk, reason="Filament ran out (T0): load new filament, then resume the job."
    )
    client = client_for(shop.machinist)
    page = client.get(reverse("terminal:home")).content.decode()
    tile = tile_html(page, shop.printer.name)
    assert 'data-testid="pause-reason"' in tile and "Filament ran out (T0)" in tile
    assert 'data-testid="resume"' in tile  # the machinist resumes from the tile once filament is in

    production_actions.do_job_fail_run(job.pk, reason="connection lost: no word from the printer for 2.0 s")
    tile = tile_html(client.get(reverse("terminal:home")).content.decode(), shop.printer.name)
    assert 'data-testid="connection-lost"' in tile and "no word from the printer for 2.0 s" in tile


def test_the_machine_page_shows_what_the_controller_reported_with_its_warnings(shop):
    production_actions.do_machine_controller_report_record(
        shop.printer.pk,
        report={
            "firmware_name": "Marlin 2.1.2",
            "capabilities": {"EMERGENCY_PARSER": False},
            "command_buffer": 3,
            "rx_buffer": 128,
            "warnings": ["The firmware has no EMERGENCY_PARSER: an E-STOP (M112) is read only after ..."],
        },
    )
    client = client_for(shop.machinist)
    page = client.get(reverse("terminal:machine", args=[shop.printer.pk])).content.decode()
    assert 'data-testid="controller-report"' in page and "Marlin 2.1.2" in page
    assert 'data-testid="controller-warning"' in page and "no EMERGENCY_PARSER" in page
    fresh = client.get(reverse("terminal:machine", args=[shop.mill.pk])).content.decode()
    assert "No runner has connected to this machine yet." in fresh
