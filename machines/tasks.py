"""Tasks on the machine queues. Thin: they take ids and call the runner."""

from celery import shared_task
from celery.signals import worker_ready

from machines import runner


@shared_task(name="machines.run_job", ignore_result=True, acks_late=False)
def run_job(job_id: int) -> str:
    """Drive job ``job_id`` on its machine. Early acknowledgement: a run is never redelivered; the job's
    state in the database guards against a second delivery, and a dead worker's job is found on restart."""
    return runner.run_job(job_id, runner_name=run_job.request.hostname or "local")


@shared_task(name="machines.run_maintenance", ignore_result=True, acks_late=False)
def run_maintenance(command_id: int) -> str:
    """Send maintenance command ``command_id`` (unlock, home) to its machine's controller. Early
    acknowledgement, like a run: the command is taken once, and one that waited too long is not sent."""
    return runner.run_maintenance(command_id)


@worker_ready.connect
def _interrupt_orphans(sender=None, **kwargs) -> None:
    """A machine worker that starts marks the runs its dead predecessor left RUNNING as INTERRUPTED."""
    queues = [q.name for q in sender.app.amqp.queues.consume_from.values()]
    runner.recover_after_worker_start(queues)


@shared_task(name="machines.watchdog", ignore_result=True)
def watchdog() -> int:
    """Mark runs whose runner stopped reporting INTERRUPTED (scheduled by Celery beat)."""
    return runner.interrupt_stale_runs()
