"""The whole repair, walked in a real browser: ticket, part request, machining on a simulated mill over a
pty driven by a real Celery worker, part removal, camera inspection, issue and close; and an E-STOP
pressed mid-run that reaches the machine."""

import time
import uuid

import pytest
from playwright.sync_api import Page, expect
from rest_framework.authtoken.models import Token

from mes.catalog import services as catalog
from mes.core.queues import machine_queue
from mes.inventory.models import StockItem
from mes.production.models import Job, Machine
from mes.repairs.models import DamageTicket
from simulators.serve import SimulatedMachine
from tests.factories import make_shop
from tests.support.worker import celery_worker
from tests.ui.conftest import PHONE, screenshot
from tests.vision import stations
from vision.station_client import StationClient

pytestmark = [
    pytest.mark.browser,
    pytest.mark.broker,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

# The simulated mill runs at a fiftieth of real time: the program below takes about ten seconds.
TIME_SCALE = 0.02


def long_mill_program(passes: int = 60) -> str:
    """A facing program of many short moves, so that progress visibly advances line by line."""
    lines = ["(facing pass, browser test)", "G21 G90 G17 G94", "M3 S10000", "G0 Z5", "G0 X0 Y0"]
    lines.append("G1 Z-0.5 F150")
    for i in range(passes):
        y = round(0.2 * i, 2)
        lines += [f"G1 X{78 if i % 2 == 0 else 2} Y{y} F2000", f"G1 Y{y + 0.1:.2f} F600"]
    lines += ["G0 Z5", "M5", "M30"]
    return "\n".join(lines) + "\n"


@pytest.fixture
def shop_on_a_pty(settings):
    """A shop whose only machine in service is a GRBL mill simulated on a pty, with a long program,
    a calibrated camera station, and a real worker on the mill's queue and the vision queue."""
    settings.MES_QUEUE_PREFIX = f"t{uuid.uuid4().hex[:8]}."
    settings.VISION_QUEUE = f"{settings.MES_QUEUE_PREFIX}vision"
    shop = make_shop(printer=False, release=False)
    program = catalog.program_create(
        shop.supervisor,
        revision=shop.revision,
        name="milled, facing",
        machine_type="cnc_mill",
        firmware="grbl",
        material="Al 6061",
        gcode_text=long_mill_program(),
    )
    catalog.part_revision_release(shop.supervisor, revision=shop.revision)
    catalog.program_release(shop.supervisor, program=program)
    shop.revision.refresh_from_db()
    stations.configure(shop.station)
    stations.true_calibration(shop.station, shop.supervisor)
    env = {
        "MES_QUEUE_PREFIX": settings.MES_QUEUE_PREFIX,
        "VISION_QUEUE": settings.VISION_QUEUE,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }
    with SimulatedMachine(
        "grbl", transport="pty", baud=115200, time_scale=TIME_SCALE, envelope=(300, 200, 80)
    ) as sim:
        Machine.objects.filter(pk=shop.mill.pk).update(port_url=sim.url)
        with celery_worker([machine_queue(shop.mill.pk), settings.VISION_QUEUE], extra_env=env) as worker:
            yield shop, sim, worker


def file_life_safety_ticket(page: Page, shop) -> None:
    page.goto("/tickets/new/")
    page.select_option("select[name=sector]", str(shop.sector.pk))
    page.select_option("select[name=module]", str(shop.module.pk))
    page.check("input[name=severity][value=life_safety]")
    page.fill("textarea[name=description]", "Micrometeorite breach, corridor A3: bracket sheared")
    page.get_by_test_id("file-ticket").click()
    expect(page.get_by_test_id("ticket-status")).to_be_visible()


def request_one_bracket(page: Page, shop) -> None:
    page.select_option("select[name=revision]", str(shop.revision.pk))
    page.fill("input[name=quantity]", "1")
    page.get_by_test_id("request-parts").click()


def start_next_job_on_the_mill(page: Page, shop) -> None:
    page.goto("/terminal/")
    tile = page.get_by_test_id(f"machine-{shop.mill.name}")
    tile.get_by_test_id("start-next").click()
    expect(page.get_by_test_id("program-sha")).to_contain_text(Job.objects.get().program.sha256[:12])
    page.check("input[name=stock_zeroed]")
    page.select_option("select[name=lot]", str(shop.blanks.pk))
    page.get_by_test_id("confirm-start").click()


def progress_of(page: Page, tile_testid: str) -> float:
    """The progress bar's value as a fraction 0..1 (bars may count 0..1 or 0..100)."""
    bar = page.get_by_test_id(tile_testid).get_by_test_id("job-progress")
    value, top = float(bar.get_attribute("value") or 0), float(bar.get_attribute("max") or 1)
    return value / top


def wait_for_progress_above(page: Page, tile_testid: str, floor: float) -> float:
    """Wait (the page refreshes itself) until the tile's progress bar passes ``floor``."""
    page.wait_for_function(
        """([tile, floor]) => {
            const bar = document.querySelector(`[data-testid="${tile}"] [data-testid="job-progress"]`);
            return bar && (+bar.value / (+bar.max || 1)) > floor;
        }""",
        arg=[tile_testid, floor],
        timeout=30_000,
    )
    return progress_of(page, tile_testid)


def test_an_engineer_gets_a_made_and_inspected_part_for_a_life_safety_ticket(
    login, live_server, shop_on_a_pty
):
    shop, _sim, worker = shop_on_a_pty
    engineer = login(shop.engineer, viewport=PHONE)
    file_life_safety_ticket(engineer, shop)
    request_one_bracket(engineer, shop)
    ticket = DamageTicket.objects.get()
    request = ticket.requests.get()
    job = Job.objects.get()
    expect(engineer.get_by_test_id(f"request-{request.pk}")).to_contain_text(str(job))

    machinist = login(shop.machinist)
    machinist.goto("/terminal/")
    expect(machinist.locator(".banner-life")).to_contain_text(shop.mill.name)
    start_next_job_on_the_mill(machinist, shop)
    tile = f"machine-{shop.mill.name}"
    state = machinist.get_by_test_id(tile).get_by_test_id("machine-state")
    expect(state).to_have_text("running", timeout=30_000)
    first = wait_for_progress_above(machinist, tile, 0.0)
    screenshot(machinist, "terminal-running")
    later = wait_for_progress_above(machinist, tile, first)  # the live refresh shows it advance
    assert 0 < first < later
    engineer.reload()
    expect(engineer.get_by_test_id(f"job-J-{job.pk:05d}")).to_be_visible()

    # The run ends; the part waits on the bed until the machinist confirms its removal.
    expect(machinist.get_by_test_id(tile).get_by_test_id("confirm-removal")).to_be_visible(timeout=60_000)
    assert not StockItem.objects.filter(job=job).exists()
    machinist.get_by_test_id(tile).get_by_test_id("confirm-removal").click()
    confirm = machinist.get_by_test_id("confirm")
    if confirm.count():
        confirm.click()
    expect(machinist.get_by_test_id(tile).get_by_test_id("confirm-removal")).to_have_count(0)
    expect(machinist.get_by_test_id(tile).get_by_test_id("machine-state")).to_have_text("idle")
    [item] = StockItem.objects.filter(job=job)
    assert item.status == "awaiting_inspection" and item.program_sha256 == job.program.sha256

    # The camera station photographs it; the vision worker passes it; it is reserved for the ticket.
    token = Token.objects.get_or_create(user=shop.station_user)[0].key
    station = StationClient(live_server.url, token)
    posted = station.post_inspection(shop.station.name, item.serial, stations.part_photo("bracket"))
    result = station.wait(posted, timeout=90)
    assert result["status"] == "done", (result, "".join(worker.output[-30:]))
    item.refresh_from_db()
    assert item.status == "reserved" and item.reserved_for_id == request.pk

    # The engineer sees the part ready, issues it, resolves and closes the ticket.
    engineer.reload()
    expect(engineer.get_by_test_id(f"request-{request.pk}").get_by_test_id("request-status")).to_have_text(
        "ready"
    )
    engineer.get_by_test_id("issue-parts").click()
    expect(engineer.get_by_test_id(f"request-{request.pk}").get_by_test_id("request-status")).to_have_text(
        "issued"
    )
    engineer.fill("textarea[name=resolution]", "Bracket fitted, seal holds at 101 kPa")
    engineer.get_by_test_id("resolve-ticket").click()
    expect(engineer.get_by_test_id("ticket-status")).to_have_text("resolved")
    engineer.get_by_test_id("close-ticket").click()
    expect(engineer.get_by_test_id("ticket-status")).to_have_text("closed")
    item.refresh_from_db()
    assert item.status == "issued"

    dashboards = login(shop.supervisor)
    dashboards.goto("/dashboards/")
    expect(dashboards.get_by_test_id("chart-throughput")).to_be_visible()
    screenshot(dashboards, "dashboard")


def test_a_machinist_presses_estop_mid_run_and_the_machine_receives_it(login, shop_on_a_pty):
    shop, sim, _worker = shop_on_a_pty
    from mes.repairs import services as repairs

    ticket = repairs.ticket_file(
        shop.engineer, sector=shop.sector, module=shop.module, severity="critical", description="strip"
    )
    repairs.part_request_create(shop.engineer, ticket=ticket, revision=shop.revision, quantity=1)
    machinist = login(shop.machinist)
    start_next_job_on_the_mill(machinist, shop)
    tile = f"machine-{shop.mill.name}"
    wait_for_progress_above(machinist, tile, 0.05)  # cutting has begun
    executed_before = len(sim.executed)
    pressed_at = time.monotonic()
    machinist.get_by_test_id(tile).get_by_test_id("estop-machine").click()
    # The simulated GRBL records when a 0x18 crossed its wire: only one after the press counts (the
    # connect handshake's soft reset is a 0x18 too).
    assert sim.wait_for(lambda core: any(t >= pressed_at for t in core.stats.estop_times), timeout=15)
    expect(machinist.get_by_test_id(tile).get_by_test_id("machine-state")).to_have_text("error")
    # The tile says the stop reached the controller (the runner confirmed it was on the wire).
    expect(machinist.get_by_test_id(tile)).to_contain_text("Mill-1 stopped: the emergency stop reached its")
    job = Job.objects.get(state="failed")
    assert "emergency stop" in job.outcome
    assert Job.objects.get(state="queued").work_order == job.work_order  # the demand is not lost
    assert len(sim.executed) < executed_before + 200  # it stopped: most of the program never ran
    screenshot(machinist, "terminal-after-estop")
