"""Unguarded steps of an inspection request's life (``do_*``: the system's runner calls them).

Each step is one short transaction that locks the request and re-checks its state, so a second delivery
of the same task, or a watchdog and a slow worker at the same moment, change nothing twice.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from mes.core.errors import RuleViolation
from mes.core.transitions import transition
from vision.models import REQUEST_TRANSITIONS, InspectionRequest, RequestStatus

log = logging.getLogger(__name__)

# A request longer than this in ``running`` has lost its worker (the pipeline takes well under a second per
# photo; minutes leave room for a busy queue's slowest photo). Overridable in settings.
VISION_REQUEST_STALE_AFTER_S = 300.0


def do_inspection_request_claim(request_id: int) -> InspectionRequest | None:
    """Move a queued request to ``running`` under its row lock and return it; None if it is not queued."""
    with transaction.atomic():
        request = InspectionRequest.objects.select_for_update().get(pk=request_id)
        if request.status != RequestStatus.QUEUED:
            return None
        transition(request, RequestStatus.RUNNING, actor=request.requested_by, table=REQUEST_TRANSITIONS)
    return request


def do_inspection_request_lock_running(request_id: int) -> InspectionRequest:
    """Lock a running request (inside the caller's transaction); RuleViolation if it no longer runs
    (the watchdog ended it, or a person inspected the part meanwhile)."""
    request = InspectionRequest.objects.select_for_update().get(pk=request_id)
    if request.status != RequestStatus.RUNNING:
        raise RuleViolation("The request is no longer running.")
    return request


def do_inspection_request_done(request: InspectionRequest, inspection) -> None:
    """A locked running request has its verdict recorded as ``inspection``: it is done."""
    transition(
        request,
        RequestStatus.DONE,
        actor=request.requested_by,
        table=REQUEST_TRANSITIONS,
        reason=inspection.verdict,
        also={"inspection": inspection, "finished_at": timezone.now()},
    )


def do_inspection_request_fail(request_id: int, message: str) -> InspectionRequest:
    """End a queued or running request in ``error`` with ``message``; any other request is left alone."""
    with transaction.atomic():
        request = InspectionRequest.objects.select_for_update().get(pk=request_id)
        if request.status in (RequestStatus.QUEUED, RequestStatus.RUNNING):
            transition(
                request,
                RequestStatus.ERROR,
                actor=request.requested_by,
                table=REQUEST_TRANSITIONS,
                reason=message[:200],
                also={"error": message, "finished_at": timezone.now()},
            )
    return request


def do_inspection_requests_fail_stale(*, older_than_s: float | None = None) -> list[InspectionRequest]:
    """Watchdog: end requests left ``running`` for more than ``older_than_s`` seconds (default
    ``settings.VISION_REQUEST_STALE_AFTER_S``, else 300 s) in ``error``, and return them.

    A worker that died mid-inspection (killed, out of memory, host lost) never finishes its request, and
    early acknowledgement means no other worker takes it over. Ending it in ``error`` records no verdict:
    the part stays awaiting inspection, for a person or a new photo, never passed. A worker that was only
    slow and finishes later finds the request no longer running and records nothing (see
    :func:`vision.runner.run_inspection`). Each request is re-checked under its row lock, so a request
    finishing at the same moment is left alone.
    """
    if older_than_s is None:
        older_than_s = float(getattr(settings, "VISION_REQUEST_STALE_AFTER_S", VISION_REQUEST_STALE_AFTER_S))
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    ids = InspectionRequest.objects.filter(
        status=RequestStatus.RUNNING, status_changed_at__lt=cutoff
    ).values_list("pk", flat=True)
    failed = []
    for request_id in list(ids):
        with transaction.atomic():
            request = InspectionRequest.objects.select_for_update().get(pk=request_id)
            if request.status != RequestStatus.RUNNING or request.status_changed_at >= cutoff:
                continue
            message = (
                "Unable to inspect: the inspection worker stopped (running for more than "
                f"{older_than_s:.0f} s without a result); a person must inspect the part or the station "
                "must post a new photo."
            )
            transition(
                request,
                RequestStatus.ERROR,
                actor=request.requested_by,
                table=REQUEST_TRANSITIONS,
                reason="worker stopped",
                also={"error": message, "finished_at": timezone.now()},
            )
            log.warning("inspection request %s: worker stopped, ended in error", request_id)
        failed.append(request)
    return failed
