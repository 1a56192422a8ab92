"""Tasks on the ``vision`` queue (settings.VISION_QUEUE). Thin: they take ids and call the runner."""

from celery import shared_task

from vision import callbacks, runner


@shared_task(name="vision.run_inspection", ignore_result=True, acks_late=False)
def run_inspection(request_id: int) -> str:
    """Inspect request ``request_id`` and push the result to the station's callback URL, if any.

    Early acknowledgement, like machine runs: a crashed worker's request stays ``running`` for a person to
    see rather than being inspected twice. A second delivery finds the request no longer queued and does
    nothing (the state guard is in :func:`vision.runner.run_inspection`), so it never pushes twice.
    """
    request = runner.run_inspection(request_id)
    if request is None:
        return "already handled"
    callbacks.push_result(request)
    return request.status


@shared_task(name="vision.watchdog", ignore_result=True)
def watchdog() -> int:
    """End requests whose worker died while running them in ``error`` (scheduled by Celery beat), tell
    their stations, and return how many there were. The part goes to a person, never passed."""
    failed = runner.fail_stale_requests()
    for request in failed:
        callbacks.push_result(request)
    return len(failed)
