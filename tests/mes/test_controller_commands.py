"""Unlock, home and overrides from the MES: the services' rules, the worker's session against the GRBL
simulator (outcome recorded, what it means for the machine), the terminal's pages and the API."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from machines import actions as machine_actions
from machines import runner
from machines.models import MachineCommand, MachineTelemetry
from mes.core.errors import IllegalTransition, MachineUnavailable, NotPermitted, RuleViolation
from mes.core.models import WorkerHeartbeat
from mes.production import services as production
from mes.production.models import Job, Machine, MachineState
from simulators.serve import SimulatedMachine
from tests.factories import database_snapshot
from tests.web.test_terminal import queue_job, running_job

pytestmark = pytest.mark.django_db

ALARM_REASON = "ALARM:1 Hard limit triggered. Machine position is likely lost; re-homing is recommended."


@pytest.fixture
def sent(monkeypatch):
    """Tasks sent by name, as (name, args, queue), instead of reaching a broker."""
    calls = []
    monkeypatch.setattr(
        machine_actions.current_app, "send_task", lambda name, args, queue: calls.append((name, args, queue))
    )
    return calls


def on_cable(machine: Machine, *, url: str = "socket://127.0.0.1:9", worker: bool = True) -> Machine:
    """``machine`` with a serial port and (``worker``) a live worker on its queue."""
    Machine.objects.filter(pk=machine.pk).update(port_url=url)
    if worker:
        WorkerHeartbeat.objects.create(
            worker=f"m{machine.pk}@host", queue=machine.queue_name, seen_at=timezone.now()
        )
    return Machine.objects.get(pk=machine.pk)


def in_error(machine: Machine, reason: str = ALARM_REASON) -> Machine:
    Machine.objects.filter(pk=machine.pk).update(state=MachineState.ERROR, state_reason=reason)
    return Machine.objects.get(pk=machine.pk)


# --- services ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", [production.machine_unlock, production.machine_home])
def test_a_machinist_sends_a_maintenance_command_to_the_machines_own_queue(
    shop, sent, service, django_capture_on_commit_callbacks
):
    mill = in_error(on_cable(shop.mill))
    with django_capture_on_commit_callbacks(execute=True):
        command = service(shop.machinist, machine=mill)
    assert command.command in ("unlock", "home") and command.issued_by == shop.machinist
    assert sent == [("machines.run_maintenance", [command.pk], mill.queue_name)]
    assert Machine.objects.get(pk=mill.pk).state == MachineState.ERROR  # nothing changes before the answer


@pytest.mark.parametrize("role", ["engineer", "inspector"])
def test_only_machinists_and_supervisors_unlock_or_home(shop, sent, role):
    mill = in_error(on_cable(shop.mill))
    for service in (production.machine_unlock, production.machine_home):
        with pytest.raises(NotPermitted):
            service(getattr(shop, role), machine=mill)
    assert not MachineCommand.objects.exists()


def test_unlock_and_home_are_refused_while_a_job_runs(shop, sent):
    job = running_job(shop, on_cable(shop.mill))
    before = database_snapshot()
    for service in (production.machine_unlock, production.machine_home):
        with pytest.raises(IllegalTransition, match="while it is running"):
            service(shop.machinist, machine=job.machine)
    assert database_snapshot() == before and sent == []


def test_a_paused_job_on_a_machine_in_error_still_refuses_homing(shop, sent):
    job = running_job(shop, on_cable(shop.mill))
    Job.objects.filter(pk=job.pk).update(state="paused")
    mill = in_error(shop.mill)
    with pytest.raises(IllegalTransition, match=f"{job} is paused on Mill-1"):
        production.machine_home(shop.machinist, machine=mill)


def test_an_engine_without_the_command_is_refused(shop, sent):
    printer = in_error(on_cable(shop.printer))
    with pytest.raises(RuleViolation, match="no unlock command"):
        production.machine_unlock(shop.machinist, machine=printer)
    assert not MachineCommand.objects.exists()


@pytest.mark.parametrize(
    ("url", "worker", "words"), [("", False, "no serial port"), ("socket://h:1", False, "unreachable")]
)
def test_an_unreachable_machine_is_refused(shop, sent, url, worker, words):
    mill = in_error(on_cable(shop.mill, url=url, worker=worker))
    with pytest.raises(MachineUnavailable, match=words):
        production.machine_home(shop.machinist, machine=mill)
    assert not MachineCommand.objects.exists()


def test_while_homing_is_under_way_nothing_else_starts(shop, sent):
    mill = on_cable(shop.mill)
    production.machine_home(shop.machinist, machine=mill)
    with pytest.raises(MachineUnavailable, match="still busy with a homing cycle"):
        production.machine_unlock(shop.machinist, machine=mill)
    job = queue_job(shop, mill)
    with pytest.raises(MachineUnavailable, match="still busy with a homing cycle"):
        production.job_start(shop.machinist, job=job, lot=shop.blanks)


def test_an_override_goes_on_the_control_channel_of_the_running_job(shop):
    job = running_job(shop, on_cable(shop.mill))
    command = production.machine_override(shop.machinist, machine=job.machine, kind="feed", change="+10")
    assert (command.command, command.job) == ("feed:+10", job)
    production.machine_override(shop.machinist, machine=job.machine, kind="rapid", change="50")
    production.machine_override(shop.machinist, machine=job.machine, kind="spindle", change="reset")
    poller = machine_actions.CommandPoller(job.machine_id, since=job.started_at)
    assert poller.poll() == ["feed:+10", "rapid:50", "spindle:reset"]


def test_overrides_are_refused_without_a_job_for_a_wrong_value_and_for_engines_without_them(shop):
    mill = on_cable(shop.mill)
    with pytest.raises(IllegalTransition, match="cannot be overridden while it is idle"):
        production.machine_override(shop.machinist, machine=mill, kind="feed", change="+10")
    job = running_job(shop, mill)
    with pytest.raises(RuleViolation, match="No override"):
        production.machine_override(shop.machinist, machine=job.machine, kind="rapid", change="75")
    printer_job = running_job(shop, on_cable(shop.printer))
    with pytest.raises(RuleViolation, match="no feed override"):
        production.machine_override(shop.machinist, machine=printer_job.machine, kind="feed", change="+10")
    with pytest.raises(NotPermitted):
        production.machine_override(shop.inspector, machine=job.machine, kind="feed", change="+10")
    assert not MachineCommand.objects.filter(command__contains=":").exists()


# --- the worker's session (in-process, against the simulator) ---------------------------------------


@pytest.mark.slow
def test_homing_answers_ok_and_clears_the_machines_error(shop, sent):
    with SimulatedMachine("grbl", transport="pty", baud=115200, time_scale=0, homing_lock=True) as sim:
        mill = in_error(on_cable(shop.mill, url=sim.url))
        command = production.machine_home(shop.machinist, machine=mill)
        assert runner.run_maintenance(command.pk) == "ok"
        assert sim.wait_for(lambda core: not core.alarm, timeout=1)
        assert runner.run_maintenance(command.pk) == "skipped"  # a second delivery does nothing
    command.refresh_from_db()
    assert command.succeeded and command.finished_at and "Mill-1 homed" in command.outcome
    assert "error on Mill-1 is cleared" in command.outcome
    mill.refresh_from_db()
    assert mill.state == MachineState.IDLE and mill.state_reason == ""
    assert MachineTelemetry.objects.get(machine=mill).firmware_state == "Idle"


@pytest.mark.slow
def test_unlock_answers_ok_but_leaves_the_error_for_a_machinist(shop, sent):
    with SimulatedMachine("grbl", transport="pty", baud=115200, time_scale=0, homing_lock=True) as sim:
        mill = in_error(on_cable(shop.mill, url=sim.url))
        command = production.machine_unlock(shop.machinist, machine=mill)
        assert runner.run_maintenance(command.pk) == "ok"
        assert sim.wait_for(lambda core: not core.alarm and core.state == "Idle", timeout=1)
    command.refresh_from_db()
    assert command.succeeded and "Mill-1 unlocked" in command.outcome and "cleared" not in command.outcome
    assert Machine.objects.get(pk=mill.pk).state == MachineState.ERROR


def test_a_command_the_worker_takes_too_late_or_for_a_gone_port_is_not_sent(shop, sent, settings):
    mill = in_error(on_cable(shop.mill, url="/dev/nonexistent-mes-port"))
    late = production.machine_home(shop.machinist, machine=mill)
    MachineCommand.objects.filter(pk=late.pk).update(issued_at=timezone.now() - timezone.timedelta(minutes=5))
    assert runner.run_maintenance(late.pk) == "refused"
    late.refresh_from_db()
    assert late.succeeded is False and late.outcome.startswith("Not sent: it waited")
    gone = production.machine_unlock(shop.machinist, machine=mill)
    assert runner.run_maintenance(gone.pk) == "lost"
    gone.refresh_from_db()
    assert gone.succeeded is False and gone.outcome.startswith("Unreachable: cannot open")
    assert Machine.objects.get(pk=mill.pk).state == MachineState.ERROR


# --- the terminal -----------------------------------------------------------------------------------


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_confirmation_page_says_what_will_happen_and_what_the_alarm_means(shop, sent):
    mill = in_error(on_cable(shop.mill))
    page = client_for(shop.machinist).get(reverse("terminal:machine-unlock", args=[mill.pk]))
    text = page.content.decode()
    assert "$X clears the alarm lock without homing: the machine&#x27;s position may be wrong." in text
    assert "Alarm 1: Hard limit triggered" in text
    assert not MachineCommand.objects.exists()  # a GET sends nothing
    home = client_for(shop.machinist).get(reverse("terminal:machine-home", args=[mill.pk])).content.decode()
    assert "$H runs the homing cycle: the spindle moves to the limit switches." in home


def test_confirming_queues_the_command_and_the_machine_page_shows_its_outcome(shop, sent):
    mill = in_error(on_cable(shop.mill))
    client = client_for(shop.machinist)
    response = client.post(reverse("terminal:machine-home", args=[mill.pk]))
    assert response.status_code == 302 and response.url == reverse("terminal:machine", args=[mill.pk])
    command = MachineCommand.objects.get(command="home")
    panel = client.get(reverse("terminal:machine-controller", args=[mill.pk])).content.decode()
    assert "waiting for the machine" in panel
    machine_actions.do_machine_maintenance_finish(
        command, succeeded=False, outcome="Homing failed: ALARM:9 x."
    )
    panel = client.get(reverse("terminal:machine-controller", args=[mill.pk])).content.decode()
    assert "Homing failed: ALARM:9 x." in panel


def test_confirming_during_a_job_is_refused_with_409_and_the_reason(shop, sent):
    job = running_job(shop, on_cable(shop.mill))
    response = client_for(shop.machinist).post(reverse("terminal:machine-unlock", args=[job.machine_id]))
    assert response.status_code == 409
    assert "cannot be unlocked while it is running" in response.content.decode()


def test_unlock_and_home_are_offered_only_where_the_engine_has_them(shop):
    mill, printer = in_error(on_cable(shop.mill)), in_error(on_cable(shop.printer))
    client = client_for(shop.machinist)
    mill_page = client.get(reverse("terminal:machine", args=[mill.pk])).content.decode()
    printer_page = client.get(reverse("terminal:machine", args=[printer.pk])).content.decode()
    assert 'data-testid="unlock"' in mill_page and 'data-testid="home"' in mill_page
    assert 'data-testid="unlock"' not in printer_page and 'data-testid="home"' not in printer_page
    home_page = client.get(reverse("terminal:home")).content.decode()
    assert 'data-testid="unlock"' not in home_page  # only on the machine's own page


def test_override_controls_show_during_a_job_only_and_a_press_becomes_a_command(shop):
    mill = on_cable(shop.mill)
    client = client_for(shop.machinist)
    assert "override-controls" not in client.get(reverse("terminal:machine", args=[mill.pk])).content.decode()
    job = running_job(shop, mill)
    page = client.get(reverse("terminal:machine", args=[mill.pk])).content.decode()
    for testid in ("feed--10", "feed-+10", "feed-reset", "spindle-+10", "rapid-100", "rapid-50", "rapid-25"):
        assert f'data-testid="override-{testid}"' in page
    assert 'data-testid="unlock"' not in page
    assert "override-controls" not in client.get(reverse("terminal:home")).content.decode()
    response = client.post(
        reverse("terminal:machine-override", args=[mill.pk]),
        {"kind": "rapid", "change": "50"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200 and "Rapid 50 % sent to Mill-1" in response.content.decode()
    assert MachineCommand.objects.get(job=job, command="rapid:50")
    printer_job = running_job(shop, on_cable(shop.printer))
    printer_page = client.get(reverse("terminal:machine", args=[printer_job.machine_id])).content.decode()
    assert "override-controls" not in printer_page


def test_the_machine_page_shows_the_live_override_values(shop):
    mill = on_cable(shop.mill)
    machine_actions.do_machine_telemetry_record(
        mill.pk,
        job_id=None,
        snapshot={"state": "Run", "overrides": {"feed": 110, "rapid": 50, "spindle": 100}},
    )
    page = client_for(shop.machinist).get(reverse("terminal:machine", args=[mill.pk])).content.decode()
    assert "Feed 110 % · Rapid 50 % · Spindle 100 %" in page


# --- the API ----------------------------------------------------------------------------------------


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_api_unlocks_homes_and_overrides_and_refuses_with_409(shop, sent):
    mill = in_error(on_cable(shop.mill))
    api = api_for(shop.machinist)
    answer = api.post(f"/api/v1/machines/{mill.pk}/unlock/")
    assert answer.status_code == 202 and answer.json()["command"] == "unlock"
    busy = api.post(f"/api/v1/machines/{mill.pk}/home/")
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "machine_unavailable"
    assert api.post(f"/api/v1/machines/{shop.printer.pk}/home/").status_code in (400, 409)
    assert [c["command"] for c in api.get(f"/api/v1/machines/{mill.pk}/commands/").json()] == ["unlock"]
    idle = api.post(f"/api/v1/machines/{mill.pk}/override/", {"kind": "feed", "change": "+10"}, format="json")
    assert idle.status_code == 409 and idle.json()["error"]["code"] == "illegal_transition"
    assert api_for(shop.inspector).post(f"/api/v1/machines/{mill.pk}/unlock/").status_code == 403
