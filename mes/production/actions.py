"""Unguarded production steps: work orders and dispatch, job and machine state changes, the runner's side.

``do_*`` functions check no permissions. They are called by the guarded services (which have authorized
the person and locked what they change), by other apps' steps further up :data:`APP_ORDER` (see
docs/architecture.md), and by the runner, which acts on the machine's word. Each runs inside its caller's
transaction unless it says otherwise.
"""

import math
from datetime import timedelta
from decimal import Decimal

from django.db import models, transaction
from django.utils import timezone

from mes.catalog.models import Program
from mes.core.errors import NoCapableMachine
from mes.core.transitions import audited_save, transition
from mes.inventory import actions as inventory_actions
from mes.production import selectors
from mes.production.models import (
    ACTIVE_JOB_STATES,
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

STOPPABLE_MACHINE_STATES = (MachineState.IDLE, MachineState.RUNNING, MachineState.PAUSED)


def do_work_order_create(part_request, quantity: int, *, actor) -> WorkOrder:
    """Open a work order for the units stock could not cover, and dispatch it to machines."""
    work_order = WorkOrder(
        part_request=part_request,
        revision=part_request.revision,
        quantity=quantity,
        severity_rank=part_request.severity_rank,
        needed_by=part_request.needed_by,
    )
    audited_save(work_order, actor=actor, reason=f"opened for {part_request}")
    do_work_order_queue_shortfall(work_order, actor=actor)
    return work_order


def _machine_program_candidates(revision, refusals: list[str]):
    """(load, not released, machine name, -program id, machine, program) for every capable pairing;
    why each machine of the right kind cannot run a program goes to ``refusals``.

    Sorting these picks the least-loaded machine, a released program, then by name, then the newest
    program (the program id also keeps two programs for one machine from comparing Machine objects)."""
    programs = Program.objects.filter(revision=revision).order_by("-released", "-created_at")
    for program in programs:
        for machine in selectors.machines_in_service(program.machine_type, program.firmware):
            errors = selectors.program_errors_on_machine(program, machine)
            if errors:
                refusals.append(f"{machine} cannot run {program.name!r}: {errors[0]}")
                continue
            load = machine.load_seconds or 0
            yield (load, not program.released, machine.name, -program.pk, machine, program)


def do_work_order_queue_shortfall(work_order: WorkOrder, *, actor) -> list[Job]:
    """Queue jobs for the work order's shortfall, each on the least-loaded capable machine."""
    shortfall = work_order.quantity - selectors.work_order_parts_covered(work_order)
    jobs = []
    while shortfall > 0:
        refusals: list[str] = []
        candidates = sorted(_machine_program_candidates(work_order.revision, refusals), key=lambda c: c[:4])
        if not candidates:
            why = f" ({'; '.join(refusals)})" if refusals else ""
            raise NoCapableMachine(
                f"No machine in service can make {work_order.revision}{why}: add a program for an "
                "available machine type, bring a machine back into service or change its work offsets.",
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


def do_work_order_replace_shortfall(work_order: WorkOrder, *, actor) -> list[Job]:
    """After a rejected part, queue a replacement if the work order is still wanted."""
    work_order = WorkOrder.objects.select_for_update().get(pk=work_order.pk)
    if work_order.status == WorkOrderStatus.CANCELLED:
        return []
    do_work_order_sync_status(work_order, actor=actor)
    return do_work_order_queue_shortfall(work_order, actor=actor)


def do_work_order_sync_status(work_order: WorkOrder, *, actor) -> None:
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


def do_work_order_cancel(work_order: WorkOrder, *, actor, reason: str) -> None:
    """Cancel a work order and its queued jobs; jobs already running finish into stock."""
    for job in work_order.jobs.select_for_update().filter(state=JobState.QUEUED):
        do_job_end(job, JobState.CANCELLED, actor=actor, reason=reason)
    if work_order.status != WorkOrderStatus.COMPLETE:
        transition(
            work_order,
            WorkOrderStatus.CANCELLED,
            actor=actor,
            table=WORK_ORDER_TRANSITIONS,
            reason=reason,
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


def do_job_lock(job: Job) -> Job:
    return Job.objects.select_for_update().select_related("program__revision", "machine").get(pk=job.pk)


def do_job_end(job: Job, state: str, *, actor, reason: str) -> None:
    """End a job (failed, cancelled, interrupted), keeping the reason as its outcome. A run cut short has
    still used material: its lot is debited for what the machine got through (see
    :func:`_debit_aborted_run`)."""
    was_active = job.state in ACTIVE_JOB_STATES
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
    if was_active:
        _debit_aborted_run(job, actor=actor)


# Units whose amounts are continuous (a print's filament); anything else counts whole pieces (blanks).
CONTINUOUS_UNITS = frozenset({"g", "kg", "mm", "m", "ml", "l"})


def _material_used_so_far(job: Job) -> Decimal:
    """What a run cut short used: the program's material in proportion to the lines the machine
    acknowledged (an estimate: a few buffered lines may not have run), whole pieces rounded up (a blank
    the cutter touched is scrap)."""
    use = job.program.material_use
    if not job.lines_total or not job.lines_acknowledged:
        return Decimal(0)
    fraction = Decimal(job.lines_acknowledged) / Decimal(job.lines_total)
    used = use * min(fraction, Decimal(1))
    if job.program.material_unit not in CONTINUOUS_UNITS:
        used = Decimal(math.ceil(used))
    return used.quantize(Decimal("0.001"))


def _debit_aborted_run(job: Job, *, actor) -> None:
    """Take what an aborted run used from its lot (never below zero), so the colony's mass balance holds."""
    if job.feedstock_lot_id is None:
        return
    used = _material_used_so_far(job)
    if used <= 0:
        return
    lot = FeedstockLot.objects.select_for_update().get(pk=job.feedstock_lot_id)
    used = min(used, lot.quantity_on_hand)
    lot.quantity_on_hand -= used
    audited_save(lot, actor=actor, reason=f"{used} {lot.unit} used by {job} before it stopped")


def do_machine_state_set(machine: Machine, target: str, *, actor, reason: str = "") -> None:
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
    do_machine_state_set(job.machine, MachineState.IDLE, actor=actor, reason=f"{job} complete")


def _record_feedstock_use(job: Job, *, actor) -> None:
    note = _deduct_feedstock(job, actor=actor)
    if note:
        job.outcome = note.strip()
        audited_save(job, actor=actor, reason="feedstock discrepancy", update_fields=["outcome"])


def do_job_finish(job: Job, *, actor) -> list:
    """Book a locked running or completed job as finished (callers authorize: a person, or the runner)."""
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
        do_machine_state_set(job.machine, MachineState.IDLE, actor=actor, reason=f"{job} finished")
    items = inventory_actions.do_stock_items_create_for_job(job, actor=actor)
    do_work_order_sync_status(job.work_order, actor=actor)
    return items


def do_job_fail(job: Job, *, actor, reason: str) -> Job:
    """Fail a locked active job, lock its machine in error, and queue what its work order now lacks."""
    do_job_end(job, JobState.FAILED, actor=actor, reason=reason)
    do_machine_state_set(job.machine, MachineState.ERROR, actor=actor, reason=reason)
    do_job_replace_lost(job, actor=actor)
    return job


def do_job_replace_lost(job: Job, *, actor) -> list[Job]:
    """After ``job`` ended without a part (failed or cancelled), queue what its work order now lacks, so no
    demand is silently dropped; a person still starts the replacement. Says what happened in the job's
    outcome ("replaced by J-00012 on Mill-2", or why nothing could be queued). Never raises for want of a
    machine: an E-STOP's bookkeeping must not fail because of it."""
    try:
        with transaction.atomic():  # a shortfall of several runs is queued whole or not at all
            replacements = do_work_order_replace_shortfall(job.work_order, actor=actor)
    except NoCapableMachine as refusal:
        _append_outcome(job, f"No replacement queued: {refusal.message}", actor=actor)
        return []
    if replacements:
        placed = ", ".join(f"{new} on {new.machine}" for new in replacements)
        _append_outcome(job, f"Replaced by {placed}.", actor=actor)
    return replacements


def _append_outcome(job: Job, note: str, *, actor) -> None:
    job.outcome = f"{job.outcome.rstrip()} {note}".strip() if job.outcome else note
    audited_save(job, actor=actor, reason="replacement", update_fields=["outcome"])


def do_job_interrupt(job: Job, *, reason: str) -> Job:
    """Mark a job whose worker died INTERRUPTED and its machine in error. Called by the system."""
    job = do_job_lock(job)
    do_job_end(job, JobState.INTERRUPTED, actor=None, reason=reason)
    do_machine_state_set(job.machine, MachineState.ERROR, reason=reason, actor=None)
    return job


def do_machine_clear_error(machine: Machine, *, actor, note: str) -> Machine:
    """Put a machine in error back to idle (callers check the action): any interrupted job on it becomes
    failed and its demand is queued again. Locks the machine; the caller holds the transaction."""
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
        do_job_replace_lost(job, actor=actor)
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


@transaction.atomic
def do_machine_lock_stopped(machine: Machine, *, actor, why: str) -> Machine:
    """After its stop command went out: fail the machine's active job and lock the machine in error."""
    machine = Machine.objects.select_for_update().get(pk=machine.pk)
    for job in Job.objects.select_for_update().filter(machine=machine, state__in=ACTIVE_JOB_STATES):
        do_job_end(job, JobState.FAILED, actor=actor, reason=why)
        do_job_replace_lost(job, actor=actor)
    if machine.state in STOPPABLE_MACHINE_STATES:
        do_machine_state_set(machine, MachineState.ERROR, actor=actor, reason=why)
    return machine


def do_job_claim_run(job_id: int, *, runner: str) -> Job | None:
    """Claim a started job for one runner. Returns None if it is not running or already claimed, which
    makes a second delivery of the same task harmless."""
    claimed = Job.objects.filter(pk=job_id, state=JobState.RUNNING, runner="").update(
        runner=runner, runner_heartbeat_at=timezone.now()
    )
    if not claimed:
        return None
    return Job.objects.select_related("machine", "program", "operator").get(pk=job_id)


def do_job_record_progress(job_id: int, *, acknowledged: int, total: int) -> None:
    """Persist how far a run is (called at most once a second by the runner) and beat its heart."""
    Job.objects.filter(pk=job_id).update(
        lines_acknowledged=acknowledged,
        lines_total=total,
        progress=(acknowledged / total) if total else 0.0,
        runner_heartbeat_at=timezone.now(),
    )


def do_job_complete_run(job_id: int) -> Job | None:
    """The machine ran every line: the job becomes COMPLETED in its operator's name, and waits for a
    machinist to take the part off and confirm it (:func:`job_finish` books the stock).

    The machine's word is not a person's request, so the operator's roles are not checked again (a
    machinist whose account changed mid-run must not leave the job RUNNING). If a person ended the job
    meanwhile (cancel, E-STOP), their decision stands and nothing is booked.
    """
    with transaction.atomic():
        job = do_job_lock(Job(pk=job_id))
        if job.state != JobState.RUNNING:
            return None
        _complete_run(job, actor=job.operator)
        return job


def do_job_fail_run(job_id: int, *, reason: str) -> None:
    """The run ended abnormally: fail the job in its operator's name and lock the machine in error."""
    with transaction.atomic():
        job = do_job_lock(Job(pk=job_id))
        if job.state in ACTIVE_JOB_STATES:
            do_job_fail(job, actor=job.operator, reason=reason)


@transaction.atomic
def do_jobs_interrupt_orphaned(machine_ids: list[int], *, reason: str) -> list[Job]:
    """Runs claimed by a runner that is no longer alive become INTERRUPTED (called when the machine's
    worker starts: it is the only consumer of that machine's queue, so any claimed run is dead)."""
    orphans = Job.objects.filter(machine_id__in=machine_ids, state__in=ACTIVE_JOB_STATES).exclude(runner="")
    return [do_job_interrupt(job, reason=reason) for job in orphans]


@transaction.atomic
def do_jobs_interrupt_stale(*, older_than_s: float, unclaimed_after_s: float | None = None) -> list[Job]:
    """Watchdog: runs whose runner stopped beating its heart for ``older_than_s`` seconds, or that no runner
    claimed within ``unclaimed_after_s`` (default: the same) of their start, become INTERRUPTED for a
    machinist to look at."""
    now = timezone.now()
    stale = now - timedelta(seconds=older_than_s)
    unclaimed = now - timedelta(seconds=older_than_s if unclaimed_after_s is None else unclaimed_after_s)
    runs = (
        Job.objects.filter(state__in=ACTIVE_JOB_STATES)
        .filter(models.Q(runner="", started_at__lt=unclaimed) | models.Q(runner_heartbeat_at__lt=stale))
        .exclude(runner="", started_at__isnull=True)
    )
    return [do_job_interrupt(job, reason="the machine's worker stopped reporting") for job in runs]


def do_stock_item_replace(item, *, actor) -> list[Job]:
    """After ``item`` was rejected or withdrawn, queue its replacement on the work order that made it (if a
    job made it, and the work order is still wanted)."""
    if item.job_id is None:
        return []
    return do_work_order_replace_shortfall(item.job.work_order, actor=actor)


def do_job_pause_by_machine(job_id: int, *, reason: str) -> Job | None:
    """The machine paused itself or asked the host to (a filament runout, its own panel): the job and the
    machine show PAUSED with the reason, for a machinist to act on and resume. No command goes back:
    the runner has already stopped feeding lines. None if the job was not running."""
    with transaction.atomic():
        job = do_job_lock(Job(pk=job_id))
        if job.state != JobState.RUNNING:
            return None
        transition(
            job, JobState.PAUSED, actor=job.operator, table=JOB_TRANSITIONS, field="state", reason=reason
        )
        machine = Machine.objects.select_for_update().get(pk=job.machine_id)
        if machine.state == MachineState.RUNNING:
            do_machine_state_set(machine, MachineState.PAUSED, actor=job.operator, reason=reason)
        return job


def do_job_resume_by_machine(job_id: int, *, reason: str) -> Job | None:
    """The machine resumed by itself (its panel): the job and the machine run again. None if it was not
    paused."""
    with transaction.atomic():
        job = do_job_lock(Job(pk=job_id))
        if job.state != JobState.PAUSED:
            return None
        transition(
            job, JobState.RUNNING, actor=job.operator, table=JOB_TRANSITIONS, field="state", reason=reason
        )
        machine = Machine.objects.select_for_update().get(pk=job.machine_id)
        if machine.state == MachineState.PAUSED:
            do_machine_state_set(machine, MachineState.RUNNING, actor=job.operator, reason=str(job))
        return job


def do_job_record_run(job_id: int, *, record: dict) -> None:
    """Keep how the run went on the wire with the job (see ``Job.run_record``)."""
    Job.objects.filter(pk=job_id).update(run_record=record)


def do_machine_controller_report_record(machine_id: int, *, report: dict) -> None:
    """Keep what the controller said about itself at connect, for the machine's page."""
    Machine.objects.filter(pk=machine_id).update(
        controller_report=report, controller_report_at=timezone.now()
    )
