"""The workers' own word: entry points for Celery signals and the heartbeat task (no person acts here).

Every worker beats every ``MES_WORKER_HEARTBEAT_S`` seconds from a thread of its main process
(:func:`keep_beating`), so a worker that dies (even by SIGKILL) stops beating and, within
``MES_WORKER_ALIVE_S``, its machines show as unreachable and refuse new jobs.
"""

import logging
import threading

from django.conf import settings
from django.db import close_old_connections

from mes.core.actions import do_worker_heartbeat_record

log = logging.getLogger(__name__)


def worker_alive(worker: str, queue: str) -> None:
    """A worker consuming ``queue`` answered the periodic heartbeat task."""
    do_worker_heartbeat_record(worker=worker, queue=queue)


def keep_beating(worker: str, queues: list[str], *, stop: threading.Event | None = None) -> threading.Thread:
    """Record ``worker`` alive now and then every ``MES_WORKER_HEARTBEAT_S`` seconds from a daemon thread,
    until ``stop`` is set or the process ends. A failed write is logged and retried at the next beat."""
    queue = ",".join(sorted(queues))
    stop = stop or threading.Event()

    def record() -> None:
        try:
            close_old_connections()
            do_worker_heartbeat_record(worker=worker, queue=queue)
        except Exception:  # a database hiccup must not end the heartbeat for good
            log.exception("recording the heartbeat of %s failed", worker)

    record()  # at once: the worker's machines become reachable as soon as it is ready

    def beat() -> None:
        while not stop.wait(settings.MES_WORKER_HEARTBEAT_S):
            record()

    thread = threading.Thread(target=beat, name="mes-heartbeat", daemon=True)
    thread.start()
    return thread
