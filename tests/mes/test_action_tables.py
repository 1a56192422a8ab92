"""Every job and machine action of the API, tried from every state: the legal ones do what they say, the
others answer 409 with the reason and change nothing (no state, no command to a machine, no stock).

The expected tables are written out here, independently of ``JOB_ACTIONS``/``MACHINE_ACTIONS``, so a
wrong entry in the code fails a test instead of redefining what is right.
"""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from machines.models import MachineCommand
from mes.core.errors import IllegalTransition
from mes.core.models import WorkerHeartbeat
from mes.production import services as production
from mes.production.models import Job, JobState, Machine, MachineState, WorkOrder, WorkOrderStatus
from mes.repairs import services as repairs
from tests.factories import database_snapshot

pytestmark = pytest.mark.django_db

# The machine's state that goes with each job state in a consistent shop.
MACHINE_STATE_OF_JOB = {
    JobState.QUEUED: MachineState.IDLE,
    JobState.RUNNING: MachineState.RUNNING,
    JobState.PAUSED: MachineState.PAUSED,
    JobState.COMPLETED: MachineState.IDLE,
    JobState.FINISHED: MachineState.IDLE,
    JobState.FAILED: MachineState.ERROR,
    JobState.CANCELLED: MachineState.IDLE,
    JobState.INTERRUPTED: MachineState.ERROR,
}

# action -> {legal from-state: state after}; every other state is refused.
JOB_TABLE = {
    "start": {JobState.QUEUED: JobState.RUNNING},
    "pause": {JobState.RUNNING: JobState.PAUSED},
    "resume": {JobState.PAUSED: JobState.RUNNING},
    "cancel": {
        JobState.QUEUED: JobState.CANCELLED,
        JobState.RUNNING: JobState.CANCELLED,
        JobState.PAUSED: JobState.CANCELLED,
        JobState.INTERRUPTED: JobState.CANCELLED,
    },
    # RUNNING: this mill has no port, so its machinist runs it by hand and says when it is done.
    "finish": {JobState.COMPLETED: JobState.FINISHED, JobState.RUNNING: JobState.FINISHED},
    "fail": {JobState.RUNNING: JobState.FAILED, JobState.PAUSED: JobState.FAILED},
}

BODIES = {"start": "lot", "cancel": {"reason": "not needed"}, "fail": {"reason": "spindle stalled"}}


def machinist_api(shop) -> APIClient:
    client = APIClient()
    client.force_authenticate(shop.machinist)
    return client


def job_in_state(shop, state: str) -> Job:
    """A job for the mill in ``state``, with the mill in the state that goes with it."""
    ticket = repairs.ticket_file(
        shop.engineer, sector=shop.sector, module=shop.module, severity="critical", description="breach"
    )
    repairs.part_request_create(shop.engineer, ticket=ticket, revision=shop.revision, quantity=1)
    job = Job.objects.get(machine=shop.mill)
    Job.objects.filter(pk=job.pk).update(state=state)
    Machine.objects.filter(pk=shop.mill.pk).update(state=MACHINE_STATE_OF_JOB[state])
    if state != JobState.QUEUED:  # a job that has started put its work order in production
        WorkOrder.objects.filter(pk=job.work_order_id).update(status=WorkOrderStatus.IN_PROGRESS)
    return Job.objects.get(pk=job.pk)


def post_action(shop, job: Job, action: str):
    body = BODIES.get(action)
    if body == "lot":
        body = {"lot": shop.blanks.pk}
    return machinist_api(shop).post(f"/api/v1/jobs/{job.pk}/{action}/", body or {}, format="json")


CASES = [(action, state) for action in JOB_TABLE for state in JobState.values]


@pytest.mark.parametrize(("action", "state"), CASES, ids=[f"{a}-from-{s}" for a, s in CASES])
def test_each_job_action_from_each_state(shop, action, state):
    job = job_in_state(shop, state)
    before = database_snapshot()

    response = post_action(shop, job, action)

    job.refresh_from_db()
    if state in JOB_TABLE[action]:
        assert response.status_code == 200, response.json()
        assert job.state == JOB_TABLE[action][state]
    else:
        assert response.status_code == 409, response.json()
        assert response.json()["error"]["code"] == "illegal_transition"
        assert f"while it is {state}" in response.json()["error"]["message"]
        assert database_snapshot() == before


def test_a_job_a_runner_streams_is_not_finished_by_hand(shop):
    Machine.objects.filter(pk=shop.mill.pk).update(port_url="socket://127.0.0.1:7101")
    job = job_in_state(shop, JobState.RUNNING)
    before = database_snapshot()

    response = post_action(shop, job, "finish")

    assert response.status_code == 409
    assert "its controller reports the end of the run" in response.json()["error"]["message"]
    assert database_snapshot() == before


# Pause and resume also need the machine to be in step: a paused job on a machine someone stopped.
@pytest.mark.parametrize(
    ("action", "job_state", "machine_state"),
    [
        ("pause", JobState.RUNNING, MachineState.ERROR),
        ("resume", JobState.PAUSED, MachineState.ERROR),
        ("resume", JobState.PAUSED, MachineState.MAINTENANCE),
        ("start", JobState.QUEUED, MachineState.OFFLINE),
        ("start", JobState.QUEUED, MachineState.MAINTENANCE),
        ("start", JobState.QUEUED, MachineState.ERROR),
    ],
)
def test_job_actions_need_the_machine_in_step(shop, action, job_state, machine_state):
    job = job_in_state(shop, job_state)
    Machine.objects.filter(pk=shop.mill.pk).update(state=machine_state)
    before = database_snapshot()

    response = post_action(shop, job, action)

    assert response.status_code in (400, 409), response.json()
    assert "Mill-1" in response.json()["error"]["message"]
    assert database_snapshot() == before


def test_a_second_resume_is_refused_not_a_server_error(shop):
    job = job_in_state(shop, JobState.PAUSED)

    first, second = post_action(shop, job, "resume"), post_action(shop, job, "resume")

    assert first.status_code == 200 and second.status_code == 409
    assert Job.objects.filter(machine=shop.mill, state=JobState.RUNNING).count() == 1
    assert list(MachineCommand.objects.values_list("command", flat=True)) == ["resume"]


@pytest.mark.parametrize("state", MachineState.values)
def test_clear_error_only_from_error(shop, state):
    Machine.objects.filter(pk=shop.mill.pk).update(state=state)
    before = database_snapshot()

    response = machinist_api(shop).post(
        f"/api/v1/machines/{shop.mill.pk}/clear-error/", {"note": "checked the spindle"}, format="json"
    )

    if state == MachineState.ERROR:
        assert response.status_code == 200 and response.json()["state"] == MachineState.IDLE
    else:
        assert response.status_code == 409
        assert database_snapshot() == before


@pytest.mark.parametrize("state", MachineState.values)
def test_the_estop_is_taken_in_every_machine_state(shop, state):
    Machine.objects.filter(pk=shop.mill.pk).update(state=state)

    response = machinist_api(shop).post(f"/api/v1/machines/{shop.mill.pk}/estop/")

    assert response.status_code == 503 and response.json()["status"] == "unreachable"  # no runner here
    assert MachineCommand.objects.filter(machine=shop.mill, command="estop").count() == 1
    could_move = state in (MachineState.IDLE, MachineState.RUNNING, MachineState.PAUSED)
    shop.mill.refresh_from_db()
    assert shop.mill.state == (MachineState.ERROR if could_move else state)


@pytest.mark.parametrize("state", MachineState.values)
def test_a_lot_is_loaded_only_on_a_machine_that_is_not_working(shop, state):
    Machine.objects.filter(pk=shop.mill.pk).update(state=state)
    before = database_snapshot()

    if state in (MachineState.RUNNING, MachineState.PAUSED):
        with pytest.raises(IllegalTransition, match=f"Mill-1 cannot be loaded while it is {state}"):
            production.machine_lot_load(shop.machinist, machine=shop.mill, lot=shop.blanks)
        assert database_snapshot() == before
    else:
        production.machine_lot_load(shop.machinist, machine=shop.mill, lot=shop.blanks)
        shop.mill.refresh_from_db()
        assert shop.mill.loaded_lot == shop.blanks


# Controller commands: unlock and home with no job running, from these machine states only (written out
# here, independently of MACHINE_ACTIONS); overrides only while a job runs or is held.
MAINTENANCE_STATES = {MachineState.IDLE, MachineState.ERROR}
OVERRIDE_STATES = {MachineState.RUNNING, MachineState.PAUSED}


def mill_on_a_live_cable(shop) -> None:
    Machine.objects.filter(pk=shop.mill.pk).update(port_url="socket://127.0.0.1:7101")
    WorkerHeartbeat.objects.create(worker="mill@host", queue=shop.mill.queue_name, seen_at=timezone.now())


@pytest.mark.parametrize("action", ["unlock", "home"])
@pytest.mark.parametrize("state", MachineState.values)
def test_unlock_and_home_only_from_idle_or_error(shop, action, state):
    mill_on_a_live_cable(shop)
    Machine.objects.filter(pk=shop.mill.pk).update(state=state)
    before = database_snapshot()

    response = machinist_api(shop).post(f"/api/v1/machines/{shop.mill.pk}/{action}/")

    if state in MAINTENANCE_STATES:
        assert response.status_code == 202, response.json()
        assert MachineCommand.objects.get().command == action
        assert Machine.objects.get(pk=shop.mill.pk).state == state  # the controller's answer decides
    else:
        assert response.status_code == 409, response.json()
        assert response.json()["error"]["code"] == "illegal_transition"
        assert database_snapshot() == before


@pytest.mark.parametrize("state", MachineState.values)
def test_overrides_only_while_a_job_runs_or_is_held(shop, state):
    mill_on_a_live_cable(shop)
    job_state = {MachineState.RUNNING: JobState.RUNNING, MachineState.PAUSED: JobState.PAUSED}.get(state)
    if job_state:
        job_in_state(shop, job_state)
    Machine.objects.filter(pk=shop.mill.pk).update(state=state)
    before = database_snapshot()

    response = machinist_api(shop).post(
        f"/api/v1/machines/{shop.mill.pk}/override/", {"kind": "feed", "change": "-10"}, format="json"
    )

    if state in OVERRIDE_STATES:
        assert response.status_code == 202, response.json()
        assert MachineCommand.objects.get().command == "feed:-10"
    else:
        assert response.status_code == 409, response.json()
        assert database_snapshot() == before
