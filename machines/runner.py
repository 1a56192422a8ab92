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
from django.db import close_old_connections
from django.utils import timezone

from machines import actions, gcode, protocol, streaming, transport
from mes.core.queues import machine_id_of_queue
from mes.production import actions as production
from mes.production import selectors as production_selectors
from mes.production.models import Machine

log = logging.getLogger(__name__)


def prelude_lines(machine: Machine) -> list[tuple[int, str]]:
    """Lines sent before the program: what the machine's engine needs to run it in the validated frame."""
    engine = protocol.engine_class(machine.firmware)
    texts = engine.job_prelude(home=machine.requires_homing, work_offsets=machine.work_offsets or {})
    return [(0, text) for text in texts]


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
        engine=streaming.engine_for(machine.firmware),
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
