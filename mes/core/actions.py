"""Unguarded steps of the installation itself: race-free serial counters and worker heartbeats.

``do_*`` functions check no permissions: their callers (guarded services, the system's entry points) have.
"""

from django.db import IntegrityError, transaction
from django.utils import timezone

from mes.core.models import Sequence, WorkerHeartbeat


def do_sequence_next(name: str, count: int = 1) -> range:
    """Reserve ``count`` consecutive values of sequence ``name`` and return them.

    Runs inside the caller's transaction: the row lock is held until it commits, so concurrent callers
    queue behind it and no value is ever handed out twice.
    """
    try:
        with transaction.atomic():
            Sequence.objects.get_or_create(name=name)
    except IntegrityError:
        pass  # created concurrently by another transaction: fine, lock it below
    seq = Sequence.objects.select_for_update().get(name=name)
    first = seq.last_value + 1
    seq.last_value += count
    seq.save(update_fields=["last_value"])
    return range(first, first + count)


def do_worker_heartbeat_record(*, worker: str, queue: str) -> WorkerHeartbeat:
    """Upsert the worker's heartbeat with the current time."""
    beat, _ = WorkerHeartbeat.objects.update_or_create(
        worker=worker, defaults={"queue": queue, "seen_at": timezone.now()}
    )
    return beat
