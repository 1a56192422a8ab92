"""Race-free counters for serial numbers."""

from django.db import IntegrityError, transaction

from mes.core.models import Sequence


def sequence_next(name: str, count: int = 1) -> range:
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
