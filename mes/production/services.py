"""Production services: work orders, dispatch to machines, jobs, feedstock and machine states.

Jobs move through :data:`JOB_TRANSITIONS`; the machine's state follows its job. Starting a job is guarded
by interlocks (released program and revision, the machine idle, the program inside the machine's
envelope, enough feedstock of the right material). Finishing a job books its parts as serialised stock
awaiting inspection and deducts the feedstock it used.
"""

import time
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from machines import actions as machine_actions
from machines import maintenance, protocol
from machines import selectors as machine_selectors
from machines.models import OVERRIDE_CHANGES, MachineCommand, override_command
from mes.catalog.models import Program
from mes.core import selectors as core_selectors
from mes.core.errors import (
    IllegalTransition,
    InsufficientFeedstock,
    MachineUnavailable,
    ProgramNotReleased,
    RuleViolation,
)
from mes.core.roles import authorize
from mes.core.transitions import audited_save, check_action, transition
from mes.production import actions, selectors
from mes.production.models import (
    ACTIVE_JOB_STATES,
    JOB_ACTIONS,
    JOB_TRANSITIONS,
    MACHINE_ACTIONS,
    FeedstockLot,
    Job,
    JobState,
    Machine,
    MachineState,
    WorkOrder,
    WorkOrderStatus,
)

# How often an E-STOP request looks for its runner's confirmation (a read of one indexed row).
ESTOP_CONFIRM_POLL_S = 0.005

# How a maintenance command is named in refusals.
MAINTENANCE_SAY = {"unlock": "an unlock", "home": "a homing cycle"}

# How machine states read after "it is" in a refusal.
MACHINE_STATE_WORDS = {MachineState.ERROR: "in error", MachineState.MAINTENANCE: "in maintenance"}


def _check_job_action(job: Job, action: str) -> None:
    """Refuse ``action`` unless the (locked) job is in a state it may be done from."""
    check_action(JOB_ACTIONS, action, label=str(job), current=job.state)


def _check_machine_action(machine: Machine, action: str) -> None:
    """Refuse ``action`` unless the (locked) machine is in a state it may be done from."""
    check_action(MACHINE_ACTIONS, action, label=str(machine), current=machine.state, say=MACHINE_STATE_WORDS)


# --- work orders and dispatch -------------------------------------------------------------------------
@transaction.atomic
def work_order_dispatch(actor, *, work_order: WorkOrder) -> list[Job]:
    """Queue jobs for whatever a work order still lacks (after failures or machine changes)."""
    authorize(actor, "work_order_dispatch")
    work_order = WorkOrder.objects.select_for_update().get(pk=work_order.pk)
    if work_order.status in (WorkOrderStatus.COMPLETE, WorkOrderStatus.CANCELLED):
        raise RuleViolation(f"{work_order} is {work_order.get_status_display().lower()}.")
    jobs = actions.do_work_order_queue_shortfall(work_order, actor=actor)
    if not jobs:
        raise RuleViolation(f"{work_order} already has every part made or queued.")
    return jobs


# --- feedstock ----------------------------------------------------------------------------------------
@transaction.atomic
def feedstock_lot_receive(
    actor, *, code: str, material: str, quantity: Decimal, unit: str, supplier: str = ""
) -> FeedstockLot:
    """Book a new lot of raw material."""
    authorize(actor, "feedstock_lot_receive")
    quantity = Decimal(quantity)
    if quantity <= 0:
        raise RuleViolation("Quantity must be greater than zero.", field="quantity")
    if FeedstockLot.objects.filter(code=code).exists():
        raise RuleViolation(f"Lot {code} already exists.", field="code")
    lot = FeedstockLot(
        code=code,
        material=material,
        unit=unit,
        quantity_received=quantity,
        quantity_on_hand=quantity,
        supplier=supplier,
    )
    audited_save(lot, actor=actor, reason="received")
    return lot


@transaction.atomic
def machine_lot_load(actor, *, machine: Machine, lot: FeedstockLot) -> Machine:
    """Record that ``lot`` is now loaded on ``machine`` (a new spool, a stack of blanks).

    Refused while a job runs or is paused on the machine (that job draws from the lot it started with),
    when the lot is empty, already loaded there, or of a material and unit no program for this machine's
    type and firmware consumes.
    """
    authorize(actor, "machine_lot_load")
    machine = Machine.objects.select_for_update().get(pk=machine.pk)
    lot = FeedstockLot.objects.get(pk=lot.pk)
    active = machine.jobs.filter(state__in=ACTIVE_JOB_STATES).first()
    if active is not None:
        raise RuleViolation(
            f"{active} is {active.get_state_display().lower()} on {machine}: load a new lot once it has "
            "ended.",
            field="lot",
        )
    _check_machine_action(machine, "load_lot")
    if machine.loaded_lot_id == lot.pk:
        raise RuleViolation(f"{lot} is already loaded on {machine}.", field="lot")
    if lot.quantity_on_hand <= 0:
        raise InsufficientFeedstock(f"{lot} is empty.", field="lot")
    suitable = selectors.program_materials_for_machine(machine)
    if (lot.material.strip().lower(), lot.unit) not in suitable:
        wanted = ", ".join(sorted(f"{material} ({unit})" for material, unit in suitable)) or "nothing yet"
        raise RuleViolation(
            f"{lot} is {lot.material} counted in {lot.unit}; programs for {machine} use {wanted}.",
            field="lot",
        )
    machine.loaded_lot = lot
    audited_save(machine, actor=actor, reason=f"loaded {lot}", update_fields=["loaded_lot"])
    return machine


def _check_runner_alive(machine: Machine) -> None:
    """A machine on a cable needs its worker alive (it holds the port and runs the job): a job started
    without one would show running while nothing moves. A machine without a port is run by hand."""
    if not machine.port_url:
        return
    if machine.queue_name not in core_selectors.live_queues(alive_s=settings.MES_WORKER_ALIVE_S):
        raise RuleViolation(
            f"{machine} is unreachable: no worker for its queue ({machine.queue_name}) has reported in the "
            f"last {settings.MES_WORKER_ALIVE_S:g} s, so the job could not reach the machine. Start the "
            "machine's worker (manage.py machine_workers) and try again.",
            field="machine",
        )


def _check_no_maintenance_under_way(machine: Machine) -> None:
    """An unlock or homing asked for and not yet answered: the controller may be moving to its switches."""
    within = settings.MES_MAINTENANCE_MAX_WAIT_S + maintenance.SESSION_LIMIT_S
    pending = machine_selectors.machine_maintenance_unfinished(machine.pk, within_s=within)
    if pending is not None:
        raise MachineUnavailable(
            f"{machine} is still busy with {MAINTENANCE_SAY.get(pending.command, pending.command)} asked at "
            f"{pending.issued_at:%H:%M:%S}: wait for its outcome.",
            field="machine",
        )


def _check_feedstock(lot: FeedstockLot | None, program: Program, runs: int = 1) -> None:
    if lot is None:
        raise InsufficientFeedstock("Load a feedstock lot on the machine first.", field="lot")
    if lot.material.strip().lower() != program.material.strip().lower():
        raise InsufficientFeedstock(
            f"{lot} is {lot.material}; this program needs {program.material}.", field="lot"
        )
    if lot.unit != program.material_unit:
        raise InsufficientFeedstock(
            f"{lot} is counted in {lot.unit}; this program uses {program.material_unit}.",
            field="lot",
        )
    needed = program.material_use * runs
    if lot.quantity_on_hand < needed:
        raise InsufficientFeedstock(
            f"{lot} has {lot.quantity_on_hand} {lot.unit} left; the job needs {needed} {lot.unit}.",
            field="lot",
        )


# --- jobs ---------------------------------------------------------------------------------------------
def _check_program_on_machine(program: Program, machine: Machine) -> None:
    errors = selectors.program_errors_on_machine(program, machine)
    if errors:
        raise RuleViolation(f"{program} cannot run on {machine}: {'; '.join(errors)}", field="program")


@transaction.atomic
def job_start(actor, *, job: Job, lot: FeedstockLot | None = None) -> Job:
    """Start a queued job after its interlocks pass; the machinist becomes its operator.

    Interlocks: the job is queued, the machine idle with no other active job, the program and its revision
    released, the program inside this machine's envelope and rules, and the loaded (or given) lot of the
    program's material holding enough for the run.
    """
    authorize(actor, "job_start")
    job = actions.do_job_lock(job)
    machine = Machine.objects.select_for_update().get(pk=job.machine_id)
    _check_job_action(job, "start")
    if machine.state != MachineState.IDLE:
        raise RuleViolation(
            f"{machine} is {machine.get_state_display().lower()}; it must be idle to start a job.",
            field="machine",
        )
    _check_runner_alive(machine)
    _check_no_maintenance_under_way(machine)
    waiting = machine.jobs.filter(state=JobState.COMPLETED).first()
    if waiting is not None:
        raise RuleViolation(
            f"The part of {waiting} is still on {machine}: remove it and confirm the removal first.",
            field="machine",
        )
    program = job.program
    if not program.revision.released or not program.released:
        raise ProgramNotReleased(
            f"{program} is not released for production (program and revision {program.revision} "
            "must both be released).",
            field="program",
        )
    chosen = lot or machine.loaded_lot
    lot = FeedstockLot.objects.select_for_update().get(pk=chosen.pk) if chosen else None
    _check_feedstock(lot, program)
    _check_program_on_machine(program, machine)
    if machine.loaded_lot_id != lot.pk:
        machine.loaded_lot = lot
        audited_save(machine, actor=actor, reason=f"loaded {lot}", update_fields=["loaded_lot"])
    transition(
        job,
        JobState.RUNNING,
        actor=actor,
        table=JOB_TRANSITIONS,
        field="state",
        stamp="started_at",
        also={"operator": actor, "feedstock_lot": lot},
    )
    actions.do_machine_state_set(machine, MachineState.RUNNING, actor=actor, reason=str(job))
    actions.do_work_order_sync_status(job.work_order, actor=actor)
    machine_actions.do_machine_run_enqueue(job)
    return job


def _steer(actor, job: Job, *, command: str, job_state: str, machine_state: str) -> Job:
    """Pause or resume (``command``) an active job: both the job and its machine must be in a state the
    action may be done from; move them and tell the runner on the control channel (callers authorize)."""
    job = actions.do_job_lock(job)
    machine = Machine.objects.select_for_update().get(pk=job.machine_id)
    _check_job_action(job, command)
    _check_machine_action(machine, f"{command}_job_on")
    transition(job, job_state, actor=actor, table=JOB_TRANSITIONS, field="state")
    actions.do_machine_state_set(machine, machine_state, actor=actor, reason=str(job))
    machine_actions.do_machine_command_send(job.machine, command, actor=actor, job=job)
    return job


@transaction.atomic
def job_pause(actor, *, job: Job) -> Job:
    """Pause a running job (GRBL feed hold; Marlin stops being fed lines)."""
    authorize(actor, "job_pause")
    return _steer(actor, job, command="pause", job_state=JobState.PAUSED, machine_state=MachineState.PAUSED)


@transaction.atomic
def job_resume(actor, *, job: Job) -> Job:
    """Resume a paused job."""
    authorize(actor, "job_resume")
    running = {"job_state": JobState.RUNNING, "machine_state": MachineState.RUNNING}
    return _steer(actor, job, command="resume", **running)


@transaction.atomic
def job_cancel(actor, *, job: Job, reason: str = "cancelled by the machinist") -> Job:
    """Cancel a queued or active job. An active job's machine goes idle; a part may need clearing."""
    authorize(actor, "job_cancel")
    job = actions.do_job_lock(job)
    _check_job_action(job, "cancel")
    was_active = job.state in (JobState.RUNNING, JobState.PAUSED)
    actions.do_job_end(job, JobState.CANCELLED, actor=actor, reason=reason)
    actions.do_job_replace_lost(job, actor=actor)
    if was_active:
        actions.do_machine_state_set(job.machine, MachineState.IDLE, actor=actor, reason=reason)
        machine_actions.do_machine_command_send(job.machine, "cancel", actor=actor, job=job)
    return job


@transaction.atomic
def job_finish(actor, *, job: Job) -> list:
    """Confirm the part is off the machine: book the job's parts as serialised stock awaiting inspection.

    A run the machine completed (COMPLETED: feedstock already deducted) or one still RUNNING that the
    machinist ends by hand (a machine without a runner) both become FINISHED.
    """
    authorize(actor, "job_finish")
    job = actions.do_job_lock(job)
    _check_job_action(job, "finish")
    if job.state == JobState.RUNNING and job.machine.port_url:
        raise IllegalTransition(
            f"{job} is still running on {job.machine}: its controller reports the end of the run, and "
            "only then is the part booked. To stop it, pause, cancel or use the E-STOP.",
            code="illegal_transition",
        )
    return actions.do_job_finish(job, actor=actor)


@transaction.atomic
def job_fail(actor, *, job: Job, reason: str) -> Job:
    """End an active job as failed and put its machine in an error state a machinist must clear."""
    authorize(actor, "job_fail")
    if not reason.strip():
        raise RuleViolation("Say why the job failed.", field="reason")
    job = actions.do_job_lock(job)
    _check_job_action(job, "fail")
    return actions.do_job_fail(job, actor=actor, reason=reason)


@transaction.atomic
def machine_clear_error(actor, *, machine: Machine, note: str) -> Machine:
    """A machinist confirms a machine in error is safe again; any interrupted job on it becomes failed
    (and its demand is queued again)."""
    authorize(actor, "machine_clear_error")
    _check_clear_note(note)
    return _clear_machine(actor, machine, note=note)


@transaction.atomic
def machines_clear_error(actor, *, machines: list[Machine], note: str) -> list[Machine]:
    """Clear several machines in error with one note, after a machinist checked each (after a shop-wide
    E-STOP): every machine is confirmed by name on the page, and each is cleared as by
    :func:`machine_clear_error`. All or none: one that is not in error refuses the whole request."""
    authorize(actor, "machine_clear_error")
    _check_clear_note(note)
    if not machines:
        raise RuleViolation("Tick each machine you checked.", field="machines")
    ordered = sorted(machines, key=lambda machine: machine.pk)  # one lock order for every request
    return [_clear_machine(actor, machine, note=note) for machine in ordered]


def _check_clear_note(note: str) -> None:
    if not note.strip():
        raise RuleViolation("Say what you checked or fixed.", field="note")


def _clear_machine(actor, machine: Machine, *, note: str) -> Machine:
    machine = Machine.objects.select_for_update().get(pk=machine.pk)
    _check_machine_action(machine, "clear_error")
    return actions.do_machine_clear_error(machine, actor=actor, note=note)


# --- controller commands: unlock and home after an alarm, overrides during a job ----------------------


def _check_engine_supports(machine: Machine, kind: str, supported: frozenset[str], what: str) -> None:
    if kind not in supported:
        label = protocol.firmware_named(machine.firmware).label
        raise RuleViolation(f"{machine} runs {label}, which has no {what} the MES can send.", field="machine")


def _check_no_active_job(machine: Machine, *, doing: str) -> None:
    active = machine.jobs.filter(state__in=ACTIVE_JOB_STATES).first()
    if active is not None:
        raise IllegalTransition(
            f"{active} is {active.get_state_display().lower()} on {machine}: {doing} only once it has ended.",
            code="illegal_transition",
        )


def _check_on_cable(machine: Machine, *, doing: str) -> None:
    if not machine.port_url:
        raise MachineUnavailable(
            f"{machine} has no serial port in the MES: {doing} on its own panel.", field="machine"
        )


def _maintenance_command(actor, machine: Machine, kind: str) -> MachineCommand:
    """Put ``kind`` (unlock, home) on the machine's channel and hand it to its worker (callers authorize).

    Refused, before anything is recorded: a machine not idle or in error, a job running or paused on it,
    a firmware without the command, no serial port, no live worker for its queue (nothing could reach the
    controller), or another unlock or homing still under way."""
    machine = Machine.objects.select_for_update().get(pk=machine.pk)
    _check_machine_action(machine, kind)
    _check_no_active_job(machine, doing=f"ask for {MAINTENANCE_SAY[kind]}")
    engine = protocol.engine_class(machine.firmware)
    _check_engine_supports(machine, kind, engine.maintenance_commands, f"{kind} command")
    _check_on_cable(machine, doing=f"use {kind}")
    if machine.queue_name not in core_selectors.live_queues(alive_s=settings.MES_WORKER_ALIVE_S):
        raise MachineUnavailable(
            f"{machine} is unreachable: no worker for its queue ({machine.queue_name}) has reported in the "
            f"last {settings.MES_WORKER_ALIVE_S:g} s, so the command could not reach the controller.",
            field="machine",
        )
    _check_no_maintenance_under_way(machine)
    command = machine_actions.do_machine_command_send(machine, kind, actor=actor)
    machine_actions.do_machine_maintenance_enqueue(command)
    return command


@transaction.atomic
def machine_unlock(actor, *, machine: Machine) -> MachineCommand:
    """Clear the controller's alarm lock without homing ($X on GRBL): its position may be wrong afterwards.

    The machine's worker opens the port, sends the command and records the answer on the returned command
    (``outcome``); the machine's error in the MES stays until a machinist clears it with a note."""
    authorize(actor, "machine_unlock")
    return _maintenance_command(actor, machine, "unlock")


@transaction.atomic
def machine_home(actor, *, machine: Machine) -> MachineCommand:
    """Run the controller's homing cycle ($H on GRBL): the spindle moves to the limit switches.

    As :func:`machine_unlock`; a successful homing also clears the machine's error (see
    ``machines.runner.run_maintenance``)."""
    authorize(actor, "machine_home")
    return _maintenance_command(actor, machine, "home")


@transaction.atomic
def machine_override(actor, *, machine: Machine, kind: str, change: str) -> MachineCommand:
    """Change a feed, spindle or rapid override of the job running (or paused) on ``machine``.

    ``change`` is one of :data:`machines.models.OVERRIDE_CHANGES` for ``kind`` ("+10", "-10", "reset";
    rapid "100", "50", "25"). The runner's control thread writes the controller's real-time bytes; the
    machine's telemetry shows the values the controller then reports."""
    authorize(actor, "machine_override")
    if change not in OVERRIDE_CHANGES.get(kind, ()):
        offered = "; ".join(f"{k}: {', '.join(v)}" for k, v in OVERRIDE_CHANGES.items())
        raise RuleViolation(
            f"No override {kind!r} {change!r}; the terminal offers {offered}.", field="change"
        )
    machine = Machine.objects.select_for_update().get(pk=machine.pk)
    _check_machine_action(machine, "override_on")
    engine = protocol.engine_class(machine.firmware)
    _check_engine_supports(machine, kind, engine.override_kinds, f"{kind} override")
    _check_on_cable(machine, doing="set overrides")
    job = machine.jobs.filter(state__in=ACTIVE_JOB_STATES).first()
    if job is None:
        raise IllegalTransition(f"{machine} runs no job: overrides act on a running job.")
    return machine_actions.do_machine_command_send(
        machine, override_command(kind, change), actor=actor, job=job
    )


@dataclass(frozen=True)
class StopReport:
    """What became of one machine's E-STOP: whether its bytes reached the controller's wire, in words."""

    machine: Machine
    #: "delivered" (the runner wrote it to the wire), "unconfirmed" (a runner was connected but did not
    #: confirm in time) or "unreachable" (no runner holds the machine's port: nothing could send it).
    status: str
    message: str
    latency_ms: float | None = None

    @property
    def delivered(self) -> bool:
        return self.status == "delivered"


OWN_STOP = "use the machine's own emergency stop"


def _stop_report(machine: Machine, command, *, connected: bool, delivered_at) -> StopReport:
    if delivered_at is not None:
        latency = (delivered_at - command.issued_at).total_seconds() * 1000
        return StopReport(
            machine,
            "delivered",
            f"{machine} stopped: the emergency stop reached its controller ({latency:.0f} ms).",
            latency,
        )
    if not connected:
        return StopReport(
            machine,
            "unreachable",
            f"{machine} unreachable: no controller is connected, so the software stop could not be "
            f"delivered; {OWN_STOP}. The machine is locked in error.",
        )
    return StopReport(
        machine,
        "unconfirmed",
        f"{machine}: the emergency stop was not confirmed by its runner within "
        f"{settings.MES_ESTOP_CONFIRM_S:g} s; treat it as still moving and {OWN_STOP}.",
    )


def _await_delivery(command_ids: list[int], *, timeout_s: float) -> dict[int, object]:
    """Wait until every command is delivered or ``timeout_s`` passes; ``{id: delivered_at}`` of those that
    were. Reads only, so it never holds a lock the runner needs."""
    deadline = time.monotonic() + timeout_s
    delivered = machine_selectors.commands_delivered(command_ids)
    while len(delivered) < len(command_ids) and time.monotonic() < deadline:
        time.sleep(ESTOP_CONFIRM_POLL_S)
        delivered = machine_selectors.commands_delivered(command_ids)
    return delivered


def _emergency_stop(actor, machines: list[Machine], *, why: str) -> list[StopReport]:
    """Send every stop first (each committed at once, so each runner sees its own within milliseconds),
    lock every machine in error, then wait for the runners to confirm the bytes are on the wire."""
    # Nothing is read before the stops go out: every query here is time before the bytes reach a wire.
    commands = [machine_actions.do_machine_command_send(m, "estop", actor=actor) for m in machines]
    ids = [machine.pk for machine in machines]
    for command in commands:  # the audit trail's link to the job, once every stop is out
        active = Job.objects.filter(machine_id=command.machine_id, state__in=ACTIVE_JOB_STATES).first()
        if active is not None:
            machine_actions.do_machine_command_link_job(command, active)
    connected = selectors.machines_with_live_runner(ids, alive_s=settings.MES_RUNNER_ALIVE_S)
    locked = [actions.do_machine_lock_stopped(machine, actor=actor, why=why) for machine in machines]
    sent = list(zip(locked, commands, strict=True))
    waiting = [command.pk for machine, command in sent if machine.pk in connected]
    delivered = _await_delivery(waiting, timeout_s=settings.MES_ESTOP_CONFIRM_S) if waiting else {}
    return [
        _stop_report(
            machine, command, connected=machine.pk in connected, delivered_at=delivered.get(command.pk)
        )
        for machine, command in sent
    ]


def machine_emergency_stop(actor, *, machine: Machine, reason: str = "") -> StopReport:
    """E-STOP one machine, whatever its state: the command goes on the machine's channel first (committed
    at once, so the runner sends the firmware's emergency stop within milliseconds); then the active job
    fails and the machine is locked in error until a machinist clears it. The report says whether the
    stop reached the controller's wire, was not confirmed, or could not be delivered (no runner connected):
    a software stop is never the only stop."""
    authorize(actor, "machine_emergency_stop")
    why = reason or f"emergency stop pressed by {actor}"
    return _emergency_stop(actor, [machine], why=why)[0]


def machines_emergency_stop_all(actor, *, reason: str = "") -> list[StopReport]:
    """E-STOP every machine that could move (idle, running or paused), as :func:`machine_emergency_stop`
    does for one; every stop goes out before any machine's bookkeeping. One report per machine."""
    authorize(actor, "machine_emergency_stop")
    machines = list(Machine.objects.filter(state__in=actions.STOPPABLE_MACHINE_STATES))
    why = reason or f"emergency stop (all machines) pressed by {actor}"
    return _emergency_stop(actor, machines, why=why) if machines else []
