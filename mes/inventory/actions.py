"""Unguarded inventory steps: serialised stock, reservations for part requests, issue, nonconformances.

``do_*`` functions check no permissions: guarded services and the inspection steps call them after
authorizing. Each runs inside its caller's transaction.

Reservation is race-free: candidate rows are locked with ``SELECT ... FOR UPDATE SKIP LOCKED`` on
PostgreSQL (SQLite serialises writers with ``BEGIN IMMEDIATE``), the status change is a conditional update
that only touches rows still accepted and unreserved, and the database's check constraint ties the status
to the single ``reserved_for`` column, so one unit can never belong to two requests.
"""

from django.utils import timezone

from mes.catalog.models import PartRevision
from mes.core.actions import do_sequence_next
from mes.core.errors import RuleViolation
from mes.core.transitions import audited_save, transition
from mes.inventory import selectors
from mes.inventory.models import (
    STOCK_TRANSITIONS,
    Nonconformance,
    NonconformanceDisposition,
    StockItem,
    StockStatus,
)
from mes.repairs import actions as repairs_actions
from mes.repairs.models import PartRequest


def do_serials_allocate(revision: PartRevision, count: int) -> list[str]:
    """New serial numbers such as ``BRK-080-A-000123`` (part, revision, shop-wide sequence)."""
    prefix = f"{revision.part.number}-{revision.revision}"
    return [f"{prefix}-{n:06d}" for n in do_sequence_next("stock_serial", count)]


def _lock_available(revision_id: int, count: int) -> list[int]:
    """Lock up to ``count`` available units of a revision that no concurrent transaction holds."""
    rows = selectors.available_stock(revision_id).select_for_update(skip_locked=True, of=("self",))
    return list(rows.values_list("pk", flat=True)[:count])


def _reserve(item: StockItem, request: PartRequest, *, actor) -> None:
    """Reserve a locked, accepted unit for ``request``."""
    transition(
        item,
        StockStatus.RESERVED,
        actor=actor,
        table=STOCK_TRANSITIONS,
        reason=f"reserved for {request}",
        also={"reserved_for": request},
    )


def do_stock_reserve_for_request(request: PartRequest, wanted: int, *, actor=None) -> int:
    """Reserve up to ``wanted`` accepted units of the request's revision for it; return how many.

    Must run inside the caller's transaction. Rows are locked before they change, and rows another
    transaction has locked are skipped rather than waited for, so concurrent requests share the stock
    without ever reserving one unit twice.
    """
    if wanted <= 0:
        return 0
    ids = _lock_available(request.revision_id, wanted)
    for item in StockItem.objects.filter(pk__in=ids).order_by("created_at", "pk"):
        _reserve(item, request, actor=actor)
    return len(ids)


def do_stock_item_reserve_for_most_urgent(item: StockItem, *, actor=None) -> PartRequest | None:
    """Reserve an accepted ``item`` for the most urgent open request of its revision, if any.

    The chosen request's row is locked and its shortfall recounted, so two units accepted at the same
    moment never over-fill a request that needs one more.
    """
    for candidate_id in selectors.requests_short_of_parts(item.revision_id).values_list("pk", flat=True):
        request = PartRequest.objects.select_for_update().get(pk=candidate_id)
        if selectors.held_units(request) >= request.quantity:
            continue
        _reserve(item, request, actor=actor)
        repairs_actions.do_part_request_sync_status(request, actor=actor)
        return request
    return None


def do_stock_items_create_for_job(job, *, actor) -> list[StockItem]:
    """Create the serialised parts a finished job made, awaiting inspection, with their genealogy."""
    revision = job.program.revision
    items = [
        StockItem(
            serial=serial,
            revision=revision,
            status=StockStatus.AWAITING_INSPECTION,
            job=job,
            machine=job.machine,
            program_sha256=job.program.sha256,
            feedstock_lot=job.feedstock_lot,
            operator=job.operator,
        )
        for serial in do_serials_allocate(revision, job.quantity)
    ]
    for item in items:
        audited_save(item, actor=actor, reason=f"made by {job}")
    return items


def do_stock_item_accept(item: StockItem, *, actor, reason: str = "") -> PartRequest | None:
    """Accept an inspected part and reserve it for the most urgent request; return that request."""
    transition(item, StockStatus.ACCEPTED, actor=actor, table=STOCK_TRANSITIONS, reason=reason)
    return do_stock_item_reserve_for_most_urgent(item, actor=actor)


def do_stock_item_reject(item: StockItem, *, actor, reason: str, inspection=None) -> Nonconformance:
    """Reject a part and record a nonconformance. Queuing its replacement is production's step
    (:func:`mes.production.actions.do_stock_item_replace`), which the caller takes next."""
    if not reason.strip():
        raise RuleViolation("A rejection needs a reason.", field="reason")
    transition(item, StockStatus.REJECTED, actor=actor, table=STOCK_TRANSITIONS, reason=reason)
    ncr = Nonconformance(stock_item=item, inspection=inspection, reason=reason)
    audited_save(ncr, actor=actor, reason="raised")
    return ncr


def _lock_reserved_units(request: PartRequest) -> list[StockItem]:
    """The units reserved for ``request``, locked for the caller's transaction."""
    return list(
        StockItem.objects.select_for_update().filter(reserved_for=request, status=StockStatus.RESERVED)
    )


def do_stock_items_issue(request: PartRequest, *, actor) -> int:
    """Issue every unit reserved for ``request`` to its ticket; return how many were issued."""
    items = _lock_reserved_units(request)
    for item in items:
        transition(
            item,
            StockStatus.ISSUED,
            actor=actor,
            table=STOCK_TRANSITIONS,
            reason=f"issued to {request.ticket}",
            also={"issued_to_id": request.ticket_id, "location": None},
        )
    return len(items)


def do_stock_items_release(request: PartRequest, *, actor) -> list[StockItem]:
    """Return the units reserved for a cancelled request to stock and re-reserve them by urgency."""
    items = _lock_reserved_units(request)
    for item in items:
        transition(
            item,
            StockStatus.ACCEPTED,
            actor=actor,
            table=STOCK_TRANSITIONS,
            reason=f"released from {request}",
            also={"reserved_for": None},
        )
    for item in items:
        do_stock_item_reserve_for_most_urgent(item, actor=actor)
    return items


def do_nonconformance_close(ncr: Nonconformance, *, disposition: str, note: str, actor):
    """Apply a disposition to a pending nonconformance (callers authorize and lock)."""
    if ncr.disposition != NonconformanceDisposition.PENDING:
        raise RuleViolation(f"{ncr} was already closed as {ncr.get_disposition_display()}.")
    if disposition not in NonconformanceDisposition.values or disposition == "pending":
        raise RuleViolation("Choose scrap, rework or use as is.", field="disposition")
    if not note.strip():
        raise RuleViolation("Say why in a note.", field="note")
    item = StockItem.objects.select_for_update().get(pk=ncr.stock_item_id)
    if disposition == NonconformanceDisposition.SCRAP:
        transition(item, StockStatus.SCRAPPED, actor=actor, table=STOCK_TRANSITIONS, reason=note)
    elif disposition == NonconformanceDisposition.REWORK:
        transition(
            item,
            StockStatus.AWAITING_INSPECTION,
            actor=actor,
            table=STOCK_TRANSITIONS,
            reason=f"rework: {note}",
        )
    else:
        do_stock_item_accept(item, actor=actor, reason=f"use as is: {note}")
    ncr.disposition = disposition
    ncr.disposition_note = note
    ncr.closed_at = timezone.now()
    ncr.closed_by = actor
    audited_save(ncr, actor=actor, reason=f"disposition {disposition}")
    return ncr


def do_stock_item_withdraw(item: StockItem, *, actor, reason: str, inspection=None) -> Nonconformance:
    """Take an accepted or reserved part out of stock as nonconforming (an overturned acceptance).

    A reserved part leaves its request, which falls back to waiting. Queuing the part's replacement is
    the caller's next step, as for :func:`do_stock_item_reject`.
    """
    request = item.reserved_for
    if item.status == StockStatus.RESERVED:
        transition(
            item,
            StockStatus.ACCEPTED,
            actor=actor,
            table=STOCK_TRANSITIONS,
            reason=f"withdrawn from {request}",
            also={"reserved_for": None},
        )
    ncr = do_stock_item_reject(item, actor=actor, reason=reason, inspection=inspection)
    if request is not None:
        repairs_actions.do_part_request_sync_status(request, actor=actor)
    return ncr
