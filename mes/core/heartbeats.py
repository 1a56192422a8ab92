"""The workers' own word: entry points for Celery signals and the heartbeat task (no person acts here)."""

from mes.core.actions import do_worker_heartbeat_record


def worker_started(worker: str, queues: list[str]) -> None:
    """A worker came up consuming ``queues``: show it on the health page at once."""
    do_worker_heartbeat_record(worker=worker, queue=",".join(sorted(queues)))


def worker_alive(worker: str, queue: str) -> None:
    """A worker consuming ``queue`` answered the periodic heartbeat task."""
    do_worker_heartbeat_record(worker=worker, queue=queue)
