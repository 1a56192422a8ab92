"""Production services: work orders, dispatch to machines, jobs, feedstock and machine states.

Jobs move through :data:`JOB_TRANSITIONS`; the machine's state follows its job. Starting a job is guarded
by interlocks (released program and revision, the machine idle, the program inside the machine's
envelope, enough feedstock of the right material). Finishing a job books its parts as serialised stock
awaiting inspection and deducts the feedstock it used.
"""

from datetime import timedelta
from decimal import Decimal

from django.db import models, transaction
from django.utils import timezone

from machines import gcode
from machines import services as machine_services
from mes.catalog.models import Program
from mes.core.errors import (
    InsufficientFeedstock,
    NoCapableMachine,
    ProgramNotReleased,
    RuleViolation,
)
from mes.core.roles import authorize
from mes.core.transitions import audited_save, transition
from mes.production import selectors
from mes.production.models import (
    JOB_TRANSITIONS,
    MACHINE_TRANSITIONS,
    WORK_ORDER_TRANSITIONS,
    FeedstockLot,
    Job,
    JobState,
    Machine,
    MachineState,
    WorkOrder,
    WorkOrderStatus,
)


# --- work orders and dispatch -------------------------------------------------------------------------
def work_order_create(part_request, quantity: int, *, actor) -> WorkOrder:
    """Open a work order for the units stock could not cover, and dispatch it to machines."""
    work_order = WorkOrder(
        part_request=part_request,
        revision=part_request.revision,
        quantity=quantity,
        severity_rank=part_request.severity_rank,
        needed_by=part_request.needed_by,
    )
    audited_save(work_order, actor=actor, reason=f"opened for {part_request}")
    _dispatch(work_order, actor=actor)
    return work_order


def _machine_program_candidates(revision):
    """(load, not released, machine name, -program id, machine, program) for every capable pairing.

    Sorting these picks the least-loaded machine, a released program, then by name, then the newest
    program (the program id also keeps two programs for one machine from comparing Machine objects)."""
    programs = Program.objects.filter(revision=revision).order_by("-released", "-created_at")
    for program in programs:
        for machine in selectors.machines_in_service(program.machine_type, program.firmware):
            if selectors.program_fits_machine(program, machine):
                load = machine.load_seconds or 0
                yield (load, not program.released, machine.name, -program.pk, machine, program)


def _dispatch(work_order: WorkOrder, *, actor) -> list[Job]:
    """Queue jobs for the work order's shortfall, each on the least-loaded capable machine."""
    shortfall = work_order.quantity - selectors.work_order_parts_covered(work_order)
    jobs = []
    while shortfall > 0:
        candidates = sorted(_machine_program_candidates(work_order.revision), key=lambda c: c[:4])
        if not candidates:
            raise NoCapableMachine(
                f"No machine in service can make {work_order.revision}: add a program for an "
                "available machine type or bring a machine back into service.",
                field="revision",
            )
        *_, machine, program = candidates[0]
        job = Job(
            work_order=work_order,
            machine=machine,
            program=program,
            quantity=program.parts_per_run,
            severity_rank=work_order.severity_rank,
            needed_by=work_order.needed_by,
        )
        audited_save(job, actor=actor, reason=f"queued on {machine} for {work_order}")
        jobs.append(job)
        shortfall -= program.parts_per_run
    return jobs


@transaction.atomic
def work_order_dispatch(actor, *, work_order: WorkOrder) -> list[Job]:
    """Queue jobs for whatever a work order still lacks (after failures or machine changes)."""
    authorize(actor, "work_order_dispatch")
    work_order = WorkOrder.objects.select_for_update().get(pk=work_order.pk)
    if work_order.status in (WorkOrderStatus.COMPLETE, WorkOrderStatus.CANCELLED):
        raise RuleViolation(f"{work_order} is {work_order.get_status_display().lower()}.")
    jobs = _dispatch(work_order, actor=actor)
    if not jobs:
        raise RuleViolation(f"{work_order} already has every part made or queued.")
    return jobs


def work_order_replace_shortfall(work_order: WorkOrder, *, actor) -> list[Job]:
    """After a rejected part, queue a replacement if the work order is still wanted."""
    work_order = WorkOrder.objects.select_for_update().get(pk=work_order.pk)
    if work_order.status == WorkOrderStatus.CANCELLED:
        return []
    work_order_sync_status(work_order, actor=actor)
    return _dispatch(work_order, actor=actor)


def work_order_sync_status(work_order: WorkOrder, *, actor) -> None:
    """Derive the work order's status from its parts and jobs."""
    if work_order.status == WorkOrderStatus.CANCELLED:
        return
    good = selectors.work_order_good_parts(work_order)
    started = work_order.jobs.exclude(state__in=[JobState.QUEUED, JobState.CANCELLED]).exists()
    if good >= work_order.quantity:
        target = WorkOrderStatus.COMPLETE
    elif started or good:
        target = WorkOrderStatus.IN_PROGRESS
    else:
        target = WorkOrderStatus.OPEN
    if target != work_order.status:
        transition(work_order, target, actor=actor, table=WORK_ORDER_TRANSITIONS)


def work_order_cancel(work_order: WorkOrder, *, actor, reason: str) -> None:
    """Cancel a work order and its queued jobs; jobs already running finish into stock."""
    for job in work_order.jobs.select_for_update().filter(state=JobState.QUEUED):
        _end_job(job, JobState.CANCELLED, actor=actor, reason=reason)
    if work_order.status != WorkOrderStatus.COMPLETE:
        transition(
            work_order,
            WorkOrderStatus.CANCELLED,
            actor=actor,
            table=WORK_ORDER_TRANSITIONS,
            reason=reason,
        )


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
    active = machine.jobs.filter(state__in=ACTIVE_STATES).first()
    if active is not None:
        raise RuleViolation(
            f"{active} is {active.get_state_display().lower()} on {machine}: load a new lot once it has "
            "ended.",
            field="lot",
        )
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


def _deduct_feedstock(job: Job, *, actor) -> str:
    """Take what a run used from its lot; return a note if the lot held less than the estimate."""
    if job.feedstock_lot_id is None:
        return ""
    lot = FeedstockLot.objects.select_for_update().get(pk=job.feedstock_lot_id)
    used = job.program.material_use
    note = ""
    if lot.quantity_on_hand < used:
        # The part exists whatever the books say: record the discrepancy instead of refusing it.
        note = f" Lot {lot.code} held {lot.quantity_on_hand} {lot.unit}, estimate was {used}."
        used = lot.quantity_on_hand
    lot.quantity_on_hand -= used
    audited_save(lot, actor=actor, reason=f"{used} {lot.unit} used by {job}")
    return note


# --- jobs ---------------------------------------------------------------------------------------------
def _lock_job(job: Job) -> Job:
    return Job.objects.select_for_update().select_related("program__revision", "machine").get(pk=job.pk)


def _end_job(job: Job, state: str, *, actor, reason: str) -> None:
    """End a job (failed, cancelled, interrupted), keeping the reason as its outcome."""
    transition(
        job,
        state,
        actor=actor,
        table=JOB_TRANSITIONS,
        field="state",
        reason=reason,
        stamp="ended_at",
        also={"outcome": reason},
    )


def _set_machine_state(machine: Machine, target: str, *, actor, reason: str = "") -> None:
    if machine.state != target:
        transition(
            machine,
            target,
            actor=actor,
            table=MACHINE_TRANSITIONS,
            field="state",
            reason=reason,
            stamp="state_changed_at",
            also={"state_reason": reason},
        )


def _check_program_on_machine(program: Program, machine: Machine) -> None:
    report = gcode.check_program(program.gcode, selectors.machine_profile(machine))[1]
    if not report.ok:
        first = "; ".join(str(issue) for issue in report.errors[:3])
        raise RuleViolation(f"{program} cannot run on {machine}: {first}", field="program")


@transaction.atomic
def job_start(actor, *, job: Job, lot: FeedstockLot | None = None) -> Job:
    """Start a queued job after its interlocks pass; the machinist becomes its operator.

    Interlocks: the job is queued, the machine idle with no other active job, the program and its revision
    released, the program inside this machine's envelope and rules, and the loaded (or given) lot of the
    program's material holding enough for the run.
    """
    authorize(actor, "job_start")
    job = _lock_job(job)
    machine = Machine.objects.select_for_update().get(pk=job.machine_id)
    if job.state != JobState.QUEUED:
        transition(job, JobState.RUNNING, table=JOB_TRANSITIONS, field="state")  # raises
    if machine.state != MachineState.IDLE:
        raise RuleViolation(
            f"{machine} is {machine.get_state_display().lower()}; it must be idle to start a job.",
            field="machine",
        )
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
    _set_machine_state(machine, MachineState.RUNNING, actor=actor, reason=str(job))
    work_order_sync_status(job.work_order, actor=actor)
    machine_services.machine_run_enqueue(job)
    return job


def _steer(actor, job: Job, *, action: str, job_state: str, machine_state: str) -> Job:
    """Move an active job and its machine to a new state and tell the runner on the control channel."""
    authorize(actor, action)
    job = _lock_job(job)
    transition(job, job_state, actor=actor, table=JOB_TRANSITIONS, field="state")
    _set_machine_state(job.machine, machine_state, actor=actor, reason=str(job))
    machine_services.machine_command_send(job.machine, action.removeprefix("job_"), actor=actor, job=job)
    return job


@transaction.atomic
def job_pause(actor, *, job: Job) -> Job:
    """Pause a running job (GRBL feed hold; Marlin stops being fed lines)."""
    return _steer(
        actor, job, action="job_pause", job_state=JobState.PAUSED, machine_state=MachineState.PAUSED
    )


@transaction.atomic
def job_resume(actor, *, job: Job) -> Job:
    """Resume a paused job."""
    return _steer(
        actor, job, action="job_resume", job_state=JobState.RUNNING, machine_state=MachineState.RUNNING
    )


@transaction.atomic
def job_cancel(actor, *, job: Job, reason: str = "cancelled by the machinist") -> Job:
    """Cancel a queued or active job. An active job's machine goes idle; a part may need clearing."""
    authorize(actor, "job_cancel")
    job = _lock_job(job)
    was_active = job.state in (JobState.RUNNING, JobState.PAUSED)
    _end_job(job, JobState.CANCELLED, actor=actor, reason=reason)
    if was_active:
        _set_machine_state(job.machine, MachineState.IDLE, actor=actor, reason=reason)
        machine_services.machine_command_send(job.machine, "cancel", actor=actor, job=job)
    return job


@transaction.atomic
def job_finish(actor, *, job: Job) -> list:
    """Confirm the part is off the machine: book the job's parts as serialised stock awaiting inspection.

    A run the machine completed (COMPLETED: feedstock already deducted) or one still RUNNING that the
    machinist ends by hand (a machine without a runner) both become FINISHED.
    """
    authorize(actor, "job_finish")
    return _finish(_lock_job(job), actor=actor)


def _complete_run(job: Job, *, actor) -> None:
    """The machine ran every line: the run is over and its feedstock used, the part still on the bed."""
    transition(
        job,
        JobState.COMPLETED,
        actor=actor,
        table=JOB_TRANSITIONS,
        field="state",
        stamp="ended_at",
        also={"progress": 1.0},
    )
    _record_feedstock_use(job, actor=actor)
    _set_machine_state(job.machine, MachineState.IDLE, actor=actor, reason=f"{job} complete")


def _record_feedstock_use(job: Job, *, actor) -> None:
    note = _deduct_feedstock(job, actor=actor)
    if note:
        job.outcome = note.strip()
        audited_save(job, actor=actor, reason="feedstock discrepancy", update_fields=["outcome"])


def _finish(job: Job, *, actor) -> list:
    """Book a locked running or completed job as finished (callers authorize: a person, or the runner)."""
    from mes.inventory import services as inventory_services

    was_running = job.state == JobState.RUNNING
    transition(
        job,
        JobState.FINISHED,
        actor=actor,
        table=JOB_TRANSITIONS,
        field="state",
        stamp="ended_at" if was_running else None,
        also={"progress": 1.0},
    )
    if was_running:
        _record_feedstock_use(job, actor=actor)
        _set_machine_state(job.machine, MachineState.IDLE, actor=actor, reason=f"{job} finished")
    items = inventory_services.stock_items_create_for_job(job, actor=actor)
    work_order_sync_status(job.work_order, actor=actor)
    return items


@transaction.atomic
def job_fail(actor, *, job: Job, reason: str) -> Job:
    """End an active job as failed and put its machine in an error state a machinist must clear."""
    authorize(actor, "job_fail")
    if not reason.strip():
        raise RuleViolation("Say why the job failed.", field="reason")
    return _fail(_lock_job(job), actor=actor, reason=reason)


def _fail(job: Job, *, actor, reason: str) -> Job:
    _end_job(job, JobState.FAILED, actor=actor, reason=reason)
    _set_machine_state(job.machine, MachineState.ERROR, actor=actor, reason=reason)
    return job


def job_interrupt(job: Job, *, reason: str) -> Job:
    """Mark a job whose worker died INTERRUPTED and its machine in error. Called by the system."""
    job = _lock_job(job)
    _end_job(job, JobState.INTERRUPTED, actor=None, reason=reason)
    _set_machine_state(job.machine, MachineState.ERROR, reason=reason, actor=None)
    return job


@transaction.atomic
def machine_clear_error(actor, *, machine: Machine, note: str) -> Machine:
    """A machinist confirms a machine in error is safe again; any interrupted job on it becomes failed."""
    authorize(actor, "machine_clear_error")
    if not note.strip():
        raise RuleViolation("Say what you checked or fixed.", field="note")
    machine = Machine.objects.select_for_update().get(pk=machine.pk)
    for job in machine.jobs.select_for_update().filter(state=JobState.INTERRUPTED):
        transition(
            job,
            JobState.FAILED,
            actor=actor,
            table=JOB_TRANSITIONS,
            field="state",
            reason=f"cleared: {note}",
        )
    transition(
        machine,
        MachineState.IDLE,
        actor=actor,
        table=MACHINE_TRANSITIONS,
        field="state",
        reason=note,
        stamp="state_changed_at",
        also={"state_reason": ""},
    )
    return machine


STOPPABLE_MACHINE_STATES = (MachineState.IDLE, MachineState.RUNNING, MachineState.PAUSED)


def machine_emergency_stop(actor, *, machine: Machine, reason: str = "") -> Machine:
    """E-STOP: the command goes on the machine's channel first (committed at once, so the runner sends
    the firmware's emergency stop within milliseconds); then the active job fails and the machine is
    locked in error until a machinist clears it."""
    authorize(actor, "machine_emergency_stop")
    active = Job.objects.filter(machine=machine, state__in=ACTIVE_STATES).first()
    machine_services.machine_command_send(machine, "estop", actor=actor, job=active)
    return _lock_stopped_machine(machine, actor=actor, why=reason or f"emergency stop pressed by {actor}")


@transaction.atomic
def _lock_stopped_machine(machine: Machine, *, actor, why: str) -> Machine:
    """After its stop command went out: fail the machine's active job and lock the machine in error."""
    machine = Machine.objects.select_for_update().get(pk=machine.pk)
    for job in Job.objects.select_for_update().filter(machine=machine, state__in=ACTIVE_STATES):
        _end_job(job, JobState.FAILED, actor=actor, reason=why)
    if machine.state in STOPPABLE_MACHINE_STATES:
        _set_machine_state(machine, MachineState.ERROR, actor=actor, reason=why)
    return machine


def machines_emergency_stop_all(actor, *, reason: str = "") -> list[Machine]:
    """E-STOP every machine that could move: every stop command goes out first (so the last machine does
    not wait for the others' bookkeeping), then each machine is locked in error as by
    :func:`machine_emergency_stop`. Returns the machines stopped."""
    authorize(actor, "machine_emergency_stop")
    machines = list(Machine.objects.filter(state__in=STOPPABLE_MACHINE_STATES))
    for machine in machines:
        active = Job.objects.filter(machine=machine, state__in=ACTIVE_STATES).first()
        machine_services.machine_command_send(machine, "estop", actor=actor, job=active)
    why = reason or f"emergency stop (all machines) pressed by {actor}"
    return [_lock_stopped_machine(machine, actor=actor, why=why) for machine in machines]


# --- the runner's side ----------------------------------------------------------------------------
ACTIVE_STATES = (JobState.RUNNING, JobState.PAUSED)


def job_claim_run(job_id: int, *, runner: str) -> Job | None:
    """Claim a started job for one runner. Returns None if it is not running or already claimed, which
    makes a second delivery of the same task harmless."""
    claimed = Job.objects.filter(pk=job_id, state=JobState.RUNNING, runner="").update(
        runner=runner, runner_heartbeat_at=timezone.now()
    )
    if not claimed:
        return None
    return Job.objects.select_related("machine", "program", "operator").get(pk=job_id)


def job_record_progress(job_id: int, *, acknowledged: int, total: int) -> None:
    """Persist how far a run is (called at most once a second by the runner) and beat its heart."""
    Job.objects.filter(pk=job_id).update(
        lines_acknowledged=acknowledged,
        lines_total=total,
        progress=(acknowledged / total) if total else 0.0,
        runner_heartbeat_at=timezone.now(),
    )


def job_complete_run(job_id: int) -> Job | None:
    """The machine ran every line: the job becomes COMPLETED in its operator's name, and waits for a
    machinist to take the part off and confirm it (:func:`job_finish` books the stock).

    The machine's word is not a person's request, so the operator's roles are not checked again (a
    machinist whose account changed mid-run must not leave the job RUNNING). If a person ended the job
    meanwhile (cancel, E-STOP), their decision stands and nothing is booked.
    """
    with transaction.atomic():
        job = _lock_job(Job(pk=job_id))
        if job.state != JobState.RUNNING:
            return None
        _complete_run(job, actor=job.operator)
        return job


def job_fail_run(job_id: int, *, reason: str) -> None:
    """The run ended abnormally: fail the job in its operator's name and lock the machine in error."""
    with transaction.atomic():
        job = _lock_job(Job(pk=job_id))
        if job.state in ACTIVE_STATES:
            _fail(job, actor=job.operator, reason=reason)


@transaction.atomic
def jobs_interrupt_orphaned(machine_ids: list[int], *, reason: str) -> list[Job]:
    """Runs claimed by a runner that is no longer alive become INTERRUPTED (called when the machine's
    worker starts: it is the only consumer of that machine's queue, so any claimed run is dead)."""
    orphans = Job.objects.filter(machine_id__in=machine_ids, state__in=ACTIVE_STATES).exclude(runner="")
    return [job_interrupt(job, reason=reason) for job in orphans]


@transaction.atomic
def jobs_interrupt_stale(*, older_than_s: float) -> list[Job]:
    """Watchdog: runs whose runner stopped beating its heart (or that no runner ever claimed) for
    ``older_than_s`` seconds become INTERRUPTED for a machinist to look at."""
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    stale = (
        Job.objects.filter(state__in=ACTIVE_STATES)
        .filter(models.Q(runner="", started_at__lt=cutoff) | models.Q(runner_heartbeat_at__lt=cutoff))
        .exclude(runner="", started_at__isnull=True)
    )
    return [job_interrupt(job, reason="the machine's worker stopped reporting") for job in stale]
