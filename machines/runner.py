"""The runner: the one place that joins a job's program, the protocol engine, the serial port and the MES.

``run_job(job_id)`` claims the job (a second delivery finds it claimed and leaves), validates the program
against the machine once more (no byte reaches a machine before that), opens the port, streams, and ends
the job through the production steps (:mod:`mes.production.actions`, on the machine's word, without
re-checking the operator's roles): finished (parts await inspection), failed (machine locked in
error for a machinist), or left as a person ended it (cancel, E-STOP). Progress is persisted at most once
a second and telemetry about twice a second, never per line.
"""

import logging

from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone

from machines import actions, gcode, maintenance, protocol, streaming, transport
from mes.core.queues import machine_id_of_queue
from mes.production import actions as production
from mes.production import selectors as production_selectors
from mes.production.models import ACTIVE_JOB_STATES, Machine, MachineState

log = logging.getLogger(__name__)


def prelude_lines(machine: Machine) -> list[tuple[int, str]]:
    """Lines sent before the program: what the machine's engine needs to run it in the validated frame."""
    engine = protocol.engine_class(machine.firmware)
    texts = engine.job_prelude(home=machine.requires_homing, work_offsets=machine.work_offsets or {})
    return [(0, text) for text in texts]


def machine_facts(machine: Machine) -> protocol.MachineFacts:
    """The machine's record as an engine checks its controller against it."""
    envelope = (
        (machine.x_min, machine.x_max),
        (machine.y_min, machine.y_max),
        (machine.z_min, machine.z_max),
    )
    return protocol.MachineFacts(envelope=envelope, requires_homing=machine.requires_homing)


class _MesHooks:
    """Streaming hooks that talk to the database (each call from its own thread closes stale connections)."""

    def __init__(self, job, started_at):
        self.job_id = job.pk
        self.machine_id = job.machine_id
        self.commands = actions.CommandPoller(job.machine_id, since=started_at)

    def poll_commands(self) -> list[str]:
        close_old_connections()
        return self.commands.poll()

    def on_estop_sent(self, sent_at: float) -> None:
        close_old_connections()
        self.commands.mark_estop_delivered(sent_at)

    def on_progress(self, acknowledged: int, total: int) -> None:
        production.do_job_record_progress(self.job_id, acknowledged=acknowledged, total=total)

    def on_telemetry(self, snapshot: dict) -> None:
        actions.do_machine_telemetry_record(self.machine_id, job_id=self.job_id, snapshot=snapshot)

    def on_controller_report(self, report: dict) -> None:
        production.do_machine_controller_report_record(self.machine_id, report=report)

    def on_host_action(self, action: str, detail: str) -> None:
        """The machine's own requests reach the job: a pause or a runout pauses it for a machinist."""
        if action in HOST_PAUSES:
            production.do_job_pause_by_machine(self.job_id, reason=host_action_reason(action, detail))
        elif action in HOST_RESUMES:
            production.do_job_resume_by_machine(self.job_id, reason="resumed at the machine")


#: Host actions (``//action:...``) that pause the job, and those that resume it.
HOST_PAUSES = frozenset({"pause", "paused", "out_of_filament"})
HOST_RESUMES = frozenset({"resume", "resumed"})


def host_action_reason(action: str, detail: str) -> str:
    """What a machine's pause request means for the machinist, in words."""
    if action == "out_of_filament":
        tool = f" ({detail})" if detail else ""
        return f"Filament ran out{tool}: load new filament, then resume the job."
    return "Paused at the machine (its own panel or firmware): check it, then resume the job."


def run_job(job_id: int, *, runner_name: str) -> str:
    """Drive one job; return its outcome word. Safe to call twice for the same job.

    Whatever goes wrong after the claim, the job does not stay RUNNING: an unexpected error fails it (the
    machine goes to error for a machinist) and is re-raised for the worker's log.
    """
    job = production.do_job_claim_run(job_id, runner=runner_name)
    if job is None:
        log.info("job %s is not waiting for a runner; nothing to do", job_id)
        return "skipped"
    try:
        return _drive(job)
    except Exception as exc:
        production.do_job_fail_run(job_id, reason=f"the runner failed unexpectedly: {exc!r}")
        raise


def _drive(job) -> str:
    job_id = job.pk
    machine = job.machine
    parsed, report = gcode.check_program(job.program.gcode, production_selectors.machine_profile(machine))
    if not report.ok:
        reason = "program refused before sending: " + "; ".join(str(i) for i in report.errors[:3])
        production.do_job_fail_run(job_id, reason=reason)
        return "refused"
    prelude = prelude_lines(machine)
    lines = prelude + parsed.sendable()
    try:
        port = transport.open_port(machine.port_url, machine.baud)
    except transport.TransportLost as exc:
        production.do_job_fail_run(job_id, reason=str(exc))
        return "lost"
    hooks = _MesHooks(job, job.started_at or timezone.now())
    session = streaming.StreamSession(
        engine=protocol.engine_class(machine.firmware).for_machine(machine_facts(machine)),
        port=port,
        lines=lines,
        hooks=streaming.StreamHooks(
            poll_commands=hooks.poll_commands,
            on_commands_applied=hooks.commands.mark_handled,
            on_estop_sent=hooks.on_estop_sent,
            on_progress=hooks.on_progress,
            on_telemetry=hooks.on_telemetry,
            on_host_action=hooks.on_host_action,
            on_controller_report=hooks.on_controller_report,
        ),
    )
    try:
        result = session.run()
    finally:
        transport.close_quietly(port)
    production.do_job_record_run(
        job_id, record=run_record(result, prelude=lines[: len(prelude_lines(machine))])
    )
    return _conclude(job_id, result)


def run_record(result: streaming.StreamResult, *, prelude: list[tuple[int, str]]) -> dict:
    """How the run went on the wire, for the job's record: the program's lines are counted apart from
    the lines the host added (prelude, handshake, housekeeping, settle command)."""
    host_lines = dict(result.host_lines)
    for _, text in prelude:
        host_lines[text] = host_lines.get(text, 0) + 1
    return {
        "outcome": result.outcome,
        "reason": result.reason,
        "lines_total": result.lines_total,
        "lines_sent": result.lines_sent,
        "lines_acknowledged": result.lines_acknowledged,
        "resends": result.resends,
        "errors": result.errors,
        "seconds": round(result.seconds, 3),
        "bytes_written": result.bytes_written,
        "bytes_read": result.bytes_read,
        "host_lines": host_lines,
    }


def _conclude(job_id: int, result: streaming.StreamResult) -> str:
    """End the job in the MES according to how the stream ended."""
    log.info("job %s ended %s: %s", job_id, result.outcome, result.reason)
    if result.outcome == "complete":
        production.do_job_complete_run(job_id)
    elif result.outcome in ("failed", "lost"):
        production.do_job_fail_run(job_id, reason=result.reason)
    # "cancelled" and "estop": the person's service call already ended the job and set the machine.
    return result.outcome


# What a maintenance command is called in its outcome, and what a success leaves the controller as.
MAINTENANCE_WORDS = {"unlock": ("Unlock", "unlocked"), "home": ("Homing", "homed")}


def run_maintenance(command_id: int) -> str:
    """Send one maintenance command (unlock, home) to its machine's controller; return its answer word.

    The command is taken once (a second delivery does nothing), then sent only if it is still what the
    machinist asked for: no job has started on the machine since, and the command did not wait for its
    worker longer than ``MES_MAINTENANCE_MAX_WAIT_S`` (a homing cycle must not start when nobody may be
    watching). The session polls the control channel, so an E-STOP still reaches the controller. The
    outcome is recorded on the command, and the controller's state as telemetry.

    Decision: a successful homing clears the machine's error in the MES (the same step as "Clear error",
    credited to the machinist who asked): the controller has found its switches, so its position is known
    again, and the machinist confirmed on the terminal that the spindle may move. An unlock does not: the
    position may be wrong, so a machinist still checks the machine and clears the error with a note.
    """
    command = actions.do_machine_maintenance_claim(command_id)
    if command is None:
        log.info("maintenance command %s already taken; nothing to do", command_id)
        return "skipped"
    machine = command.machine
    refusal = _maintenance_refusal(command, machine)
    if refusal:
        actions.do_machine_maintenance_finish(command, succeeded=False, outcome=f"Not sent: {refusal}")
        return "refused"
    try:
        port = transport.open_port(machine.port_url, machine.baud)
    except transport.TransportLost as exc:
        actions.do_machine_maintenance_finish(command, succeeded=False, outcome=f"Unreachable: {exc}")
        return "lost"
    poller = actions.CommandPoller(machine.pk, since=command.issued_at)

    def poll_commands() -> list[str]:
        commands = poller.poll()
        poller.mark_handled()
        return commands

    session = maintenance.MaintenanceSession(
        engine=protocol.engine_for(machine.firmware),
        port=port,
        kind=command.command,
        poll_commands=poll_commands,
        on_estop_sent=poller.mark_estop_delivered,
    )
    try:
        result = session.run()
    finally:
        transport.close_quietly(port)
    _conclude_maintenance(command, machine, result)
    return result.answer


def _maintenance_refusal(command, machine: Machine) -> str:
    waited = (timezone.now() - command.issued_at).total_seconds()
    if waited > settings.MES_MAINTENANCE_MAX_WAIT_S:
        return f"it waited {waited:.0f} s for {machine}'s worker; ask again when you are at the machine."
    active = machine.jobs.filter(state__in=ACTIVE_JOB_STATES).first()
    if active is not None:
        return f"{active} is {active.get_state_display().lower()} on {machine}."
    if not machine.port_url:
        return f"{machine} has no serial port."
    return ""


def _conclude_maintenance(command, machine: Machine, result: maintenance.MaintenanceResult) -> None:
    what, done = MAINTENANCE_WORDS.get(command.command, (command.command, command.command))
    state = f" The controller reports {result.state}." if result.state else ""
    if result.succeeded:
        outcome = f"{machine} {done} ({result.seconds:.1f} s).{state}"
    elif result.answer == "estop":
        outcome = f"{what} ended by an emergency stop.{state}"
    else:
        outcome = f"{what} failed: {result.detail}.{state}"
    cleared = False
    with transaction.atomic():
        if result.succeeded and command.command == "home":
            locked = Machine.objects.select_for_update().get(pk=machine.pk)
            if locked.state == MachineState.ERROR:
                note = f"homed from the terminal ({result.seconds:.1f} s)"
                production.do_machine_clear_error(locked, actor=command.issued_by, note=note)
                cleared = True
        if cleared:
            outcome += f" The error on {machine} is cleared: it is idle."
        actions.do_machine_maintenance_finish(command, succeeded=result.succeeded, outcome=outcome)
    if result.state:
        actions.do_machine_telemetry_record(machine.pk, job_id=None, snapshot={"state": result.state})


def recover_after_worker_start(queues: list[str]) -> None:
    """Mark runs left by a dead worker on these machines INTERRUPTED; never restart anything."""
    machine_ids = [mid for mid in map(machine_id_of_queue, queues) if mid is not None]
    if machine_ids:
        production.do_jobs_interrupt_orphaned(
            machine_ids, reason="the worker driving this machine stopped mid-run"
        )


def interrupt_stale_runs() -> int:
    """Watchdog: runs whose runner stopped reporting for ``MES_RUN_STALE_AFTER_S`` become INTERRUPTED;
    return how many."""
    stale = production.do_jobs_interrupt_stale(
        older_than_s=settings.MES_RUN_STALE_AFTER_S, unclaimed_after_s=settings.MES_RUN_UNCLAIMED_AFTER_S
    )
    return len(stale)
