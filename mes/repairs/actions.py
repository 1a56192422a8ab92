"""Unguarded repair steps (``do_*``: no permission check; guarded services and stock steps call them)."""

from mes.core.transitions import transition
from mes.inventory import selectors as inventory_selectors
from mes.repairs.models import REQUEST_TRANSITIONS, PartRequest, RequestStatus


def do_part_request_sync_status(request: PartRequest, *, actor=None) -> None:
    """Derive the request's status (waiting, ready, issued) from the units held for it."""
    if request.status in (RequestStatus.CANCELLED, RequestStatus.ISSUED):
        return
    held = inventory_selectors.held_units(request)
    issued = inventory_selectors.issued_units(request)
    if issued >= request.quantity:
        target = RequestStatus.ISSUED
    elif held >= request.quantity:
        target = RequestStatus.READY
    else:
        target = RequestStatus.OPEN
    if target != request.status:
        transition(request, target, actor=actor, table=REQUEST_TRANSITIONS)
