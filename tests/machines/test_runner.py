"""The runner in-process: refusals before the port opens, the watchdog, worker-start recovery."""

from datetime import timedelta

import pytest
from django.utils import timezone

from machines import runner, tasks
from mes.catalog.models import Program
from mes.celery import app as celery_app
from mes.core.queues import machine_queue
from mes.production import actions as production_actions
from mes.production import services as production
from mes.production.models import Job, Machine
from simulators.serve import SimulatedMachine
from tests.factories import make_shop, started_mill_job

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (lambda g: g.replace("G1 X82 F600", "G1 X400 F600"), "outside"),  # beyond the mill's travel
        (lambda g: g.replace("M5\n", "M5\n$130=500\n"), "$130"),  # a settings write
        (lambda g: g.replace("G1 Y32", "G1 Y3.2.1"), "line 8"),  # malformed
    ],
    ids=["envelope", "forbidden", "malformed"],
)
def test_a_bad_program_is_refused_before_the_port_is_opened(edit, says):
    shop = make_shop()
    job = started_mill_job(shop)
    # The stored program was edited behind the MES's back (or the machine changed since dispatch).
    Program.objects.filter(pk=job.program_id).update(gcode=edit(job.program.gcode))
    with SimulatedMachine("grbl", transport="pty", baud=None, time_scale=0, envelope=(300, 200, 80)) as sim:
        Machine.objects.filter(pk=shop.mill.pk).update(port_url=sim.url)
        assert runner.run_job(job.pk, runner_name="test") == "refused"
        assert sim.stats.connections == 0 and sim.stats.bytes_received == 0  # not a byte sent
    job.refresh_from_db()
    assert job.state == "failed" and says in job.outcome
    assert Machine.objects.get(pk=shop.mill.pk).state == "error"


def test_a_port_that_cannot_be_opened_fails_the_job_clearly():
    shop = make_shop()
    job = started_mill_job(shop)
    Machine.objects.filter(pk=shop.mill.pk).update(port_url="/dev/does-not-exist")
    assert runner.run_job(job.pk, runner_name="test") == "lost"
    job.refresh_from_db()
    assert job.state == "failed" and "cannot open /dev/does-not-exist" in job.outcome


def test_a_second_delivery_of_the_same_run_does_nothing():
    shop = make_shop()
    job = started_mill_job(shop)
    assert production_actions.do_job_claim_run(job.pk, runner="first") is not None
    assert runner.run_job(job.pk, runner_name="second") == "skipped"
    assert Job.objects.get(pk=job.pk).runner == "first"


def test_worker_start_interrupts_runs_its_dead_predecessor_claimed():
    shop = make_shop()
    job = started_mill_job(shop)
    production_actions.do_job_claim_run(job.pk, runner="dead-worker")
    runner.recover_after_worker_start([machine_queue(shop.mill.pk), "default"])
    job.refresh_from_db()
    assert job.state == "interrupted"
    assert Machine.objects.get(pk=shop.mill.pk).state == "error"


def test_worker_start_leaves_unclaimed_runs_for_itself():
    shop = make_shop()
    job = started_mill_job(shop)  # its task waits in the queue
    runner.recover_after_worker_start([machine_queue(shop.mill.pk)])
    assert Job.objects.get(pk=job.pk).state == "running"


def test_the_watchdog_interrupts_runs_whose_heartbeat_stopped():
    shop = make_shop()
    job = started_mill_job(shop)
    production_actions.do_job_claim_run(job.pk, runner="w")
    production_actions.do_jobs_interrupt_stale(older_than_s=60)
    assert Job.objects.get(pk=job.pk).state == "running"  # fresh heartbeat
    Job.objects.filter(pk=job.pk).update(runner_heartbeat_at=timezone.now() - timedelta(minutes=5))
    production_actions.do_jobs_interrupt_stale(older_than_s=60)
    assert Job.objects.get(pk=job.pk).state == "interrupted"


def test_clearing_an_interrupted_machine_fails_the_job_and_nothing_restarts():
    shop = make_shop()
    job = started_mill_job(shop)
    production_actions.do_job_claim_run(job.pk, runner="dead")
    runner.recover_after_worker_start([machine_queue(shop.mill.pk)])
    production.machine_clear_error(shop.machinist, machine=shop.mill, note="checked the spindle")
    job.refresh_from_db()
    assert job.state == "failed"
    assert not Job.objects.filter(state="running").exists()  # nothing restarted by itself
    [replacement] = Job.objects.filter(state="queued")  # the demand waits for a person to start it
    assert replacement.work_order == job.work_order and replacement.runner == ""


@pytest.mark.parametrize("ending", ["complete", "fail"])
def test_the_runner_ends_a_job_even_if_its_operator_lost_their_role_mid_run(ending):
    shop = make_shop()
    job = started_mill_job(shop)
    shop.machinist.is_active = False  # the machinist's account was closed while the mill cut
    shop.machinist.save()
    if ending == "complete":
        production_actions.do_job_complete_run(job.pk)
        assert Job.objects.get(pk=job.pk).state == "completed"  # the part waits on the bed
        assert Machine.objects.get(pk=shop.mill.pk).state == "idle"
        [item] = production.job_finish(shop.supervisor, job=job)  # someone confirms the removal
        assert item.operator == shop.machinist and item.status == "awaiting_inspection"
        assert Job.objects.get(pk=job.pk).state == "finished"
    else:
        production_actions.do_job_fail_run(job.pk, reason="ALARM:1 hard limit")
        assert Job.objects.get(pk=job.pk).state == "failed"
        assert Machine.objects.get(pk=shop.mill.pk).state == "error"


def test_a_started_job_is_sent_by_name_to_its_machines_queue(monkeypatch):
    """The production step sends the task by name (it may not import the task module above it): the name
    must be the registered task's, and the queue the one only that machine's worker consumes."""
    shop = make_shop()
    sent = []
    monkeypatch.setattr(celery_app, "send_task", lambda name, **kw: sent.append((name, kw)))
    job = started_mill_job(shop)
    assert sent == [(tasks.run_job.name, {"args": [job.pk], "queue": machine_queue(shop.mill.pk)})]


def test_a_runout_at_the_machine_pauses_the_job_with_the_reason_and_a_resume_at_the_machine_runs_it():
    shop = make_shop()
    job = started_mill_job(shop)
    hooks = runner._MesHooks(job, job.started_at)
    hooks.on_host_action("out_of_filament", "T0")
    job.refresh_from_db()
    machine = Machine.objects.get(pk=shop.mill.pk)
    assert job.state == "paused" and machine.state == "paused"
    assert machine.state_reason == "Filament ran out (T0): load new filament, then resume the job."
    hooks.on_host_action("resumed", "")
    assert Job.objects.get(pk=job.pk).state == "running"
    assert Machine.objects.get(pk=shop.mill.pk).state == "running"
    hooks.on_host_action("prompt", "FilamentRunout T0 (choices: Continue)")  # shown, changes nothing
    assert Job.objects.get(pk=job.pk).state == "running"


def test_the_controller_report_and_the_run_record_are_kept():
    shop = make_shop()
    job = started_mill_job(shop)
    hooks = runner._MesHooks(job, job.started_at)
    hooks.on_controller_report({"firmware_name": "Marlin 2.1.2", "warnings": ["no EMERGENCY_PARSER"]})
    machine = Machine.objects.get(pk=shop.mill.pk)
    assert machine.controller_report["warnings"] == ["no EMERGENCY_PARSER"]
    assert machine.controller_report_at is not None
    result = runner.streaming.StreamResult(
        outcome="lost",
        reason="connection lost: no word from the printer for 2.0 s",
        lines_total=3,
        lines_sent=2,
        lines_acknowledged=1,
        resends=0,
        errors=0,
        seconds=4.0,
        bytes_written=99,
        bytes_read=50,
        host_lines={"M110 N0": 1, "M400": 1},
    )
    record = runner.run_record(result, prelude=[(0, "$H")])
    assert record["host_lines"] == {"M110 N0": 1, "M400": 1, "$H": 1}
    production_actions.do_job_record_run(job.pk, record=record)
    runner._conclude(job.pk, result)
    job.refresh_from_db()
    assert job.run_record["outcome"] == "lost" and job.state == "failed"
    machine.refresh_from_db()
    assert machine.state == "error" and machine.state_reason.startswith("connection lost")
