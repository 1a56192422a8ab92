"""Repair services: damage tickets and part requests, from filing to closing."""

from django.db import transaction
from django.utils import timezone

from mes.catalog.models import PartRevision
from mes.core.errors import RuleViolation
from mes.core.roles import Role, authorize, user_roles
from mes.core.transitions import audited_save, transition
from mes.inventory import actions as inventory_actions
from mes.inventory import selectors as inventory_selectors
from mes.production import actions as production_actions
from mes.repairs import actions as repairs_actions
from mes.repairs.models import (
    REQUEST_TRANSITIONS,
    SEVERITY_RANK,
    TICKET_TRANSITIONS,
    DamageTicket,
    Module,
    PartRequest,
    RequestStatus,
    Sector,
    Severity,
    TicketStatus,
)

OPEN_TICKET_STATES = (TicketStatus.OPEN, TicketStatus.IN_PROGRESS)


@transaction.atomic
def ticket_file(actor, *, sector: Sector, module: Module, severity: str, description: str) -> DamageTicket:
    """File a damage ticket. The module must belong to the sector; a description is required."""
    authorize(actor, "ticket_file")
    if module.sector_id != sector.pk:
        raise RuleViolation(f"Module {module.name} is not in sector {sector.name}.", field="module")
    if severity not in Severity.values:
        raise RuleViolation("Severity must be life-safety, critical or routine.", field="severity")
    if not description.strip():
        raise RuleViolation("Describe the damage.", field="description")
    ticket = DamageTicket(
        sector=sector,
        module=module,
        severity=severity,
        description=description.strip(),
        reporter=actor,
    )
    audited_save(ticket, actor=actor, reason="filed")
    return ticket


@transaction.atomic
def ticket_assign(actor, *, ticket: DamageTicket, assignee) -> DamageTicket:
    """Assign a ticket to an engineer."""
    authorize(actor, "ticket_assign")
    ticket = DamageTicket.objects.select_for_update().get(pk=ticket.pk)
    if ticket.status == TicketStatus.CLOSED:
        raise RuleViolation(f"{ticket} is closed.")
    if Role.ENGINEER not in user_roles(assignee):
        raise RuleViolation(f"{assignee} is not an engineer.", field="assignee")
    ticket.assignee = assignee
    audited_save(ticket, actor=actor, reason=f"assigned to {assignee}", update_fields=["assignee"])
    return ticket


def _lock_ticket(ticket: DamageTicket) -> DamageTicket:
    return DamageTicket.objects.select_for_update().get(pk=ticket.pk)


@transaction.atomic
def part_request_create(
    actor, *, ticket: DamageTicket, revision: PartRevision, quantity: int, needed_by=None
) -> PartRequest:
    """Request parts for a ticket: reserve accepted stock first, the rest becomes a work order.

    The whole request is one transaction: if no machine can make the shortfall, nothing is reserved and
    nothing is stored, and the engineer is told why.
    """
    authorize(actor, "part_request_create")
    ticket = _lock_ticket(ticket)
    if ticket.status not in OPEN_TICKET_STATES:
        raise RuleViolation(
            f"{ticket} is {ticket.get_status_display().lower()}; parts can only be requested for "
            "an open ticket.",
            field="ticket",
        )
    if not revision.released:
        raise RuleViolation(f"{revision} is not released; request a released revision.", field="revision")
    if not isinstance(quantity, int) or quantity < 1:
        raise RuleViolation("Quantity must be a whole number of at least 1.", field="quantity")
    if needed_by is not None and needed_by < timezone.now():
        raise RuleViolation("Needed-by must be in the future.", field="needed_by")
    request = PartRequest(
        ticket=ticket,
        revision=revision,
        quantity=quantity,
        needed_by=needed_by,
        severity_rank=SEVERITY_RANK[ticket.severity],
        requested_by=actor,
    )
    audited_save(request, actor=actor, reason="requested")
    reserved = inventory_actions.do_stock_reserve_for_request(request, quantity, actor=actor)
    if reserved < quantity:
        production_actions.do_work_order_create(request, quantity - reserved, actor=actor)
    repairs_actions.do_part_request_sync_status(request, actor=actor)
    if ticket.status == TicketStatus.OPEN:
        transition(
            ticket,
            TicketStatus.IN_PROGRESS,
            actor=actor,
            table=TICKET_TRANSITIONS,
            reason=f"parts requested ({request})",
        )
    return request


@transaction.atomic
def part_request_issue(actor, *, request: PartRequest) -> int:
    """Issue the units reserved for a request to its ticket; return how many were issued.

    Units can be issued as they become ready (an emergency does not wait for the last one).
    """
    authorize(actor, "part_request_issue")
    request = PartRequest.objects.select_for_update().get(pk=request.pk)
    if request.status in (RequestStatus.CANCELLED, RequestStatus.ISSUED):
        raise RuleViolation(f"{request} is {request.get_status_display().lower()}.")
    issued = inventory_actions.do_stock_items_issue(request, actor=actor)
    if issued == 0:
        raise RuleViolation(f"{request} has no parts reserved yet.", field="request")
    if inventory_selectors.issued_units(request) >= request.quantity:
        # READY -> ISSUED, or OPEN -> READY -> ISSUED when the last units arrive together.
        if request.status == RequestStatus.OPEN:
            transition(request, RequestStatus.READY, actor=actor, table=REQUEST_TRANSITIONS)
        transition(request, RequestStatus.ISSUED, actor=actor, table=REQUEST_TRANSITIONS)
    return issued


@transaction.atomic
def part_request_cancel(actor, *, request: PartRequest, reason: str) -> PartRequest:
    """Cancel a request: its reserved units go to the next most urgent request, queued jobs stop."""
    authorize(actor, "part_request_cancel")
    if not reason.strip():
        raise RuleViolation("Say why the request is cancelled.", field="reason")
    request = PartRequest.objects.select_for_update().get(pk=request.pk)
    transition(request, RequestStatus.CANCELLED, actor=actor, table=REQUEST_TRANSITIONS, reason=reason)
    for work_order in request.work_orders.select_for_update():
        production_actions.do_work_order_cancel(work_order, actor=actor, reason=reason)
    inventory_actions.do_stock_items_release(request, actor=actor)
    return request


@transaction.atomic
def ticket_resolve(actor, *, ticket: DamageTicket, resolution: str) -> DamageTicket:
    """Resolve a ticket once every request is issued or cancelled."""
    authorize(actor, "ticket_resolve")
    if not resolution.strip():
        raise RuleViolation("Say how the damage was repaired.", field="resolution")
    ticket = _lock_ticket(ticket)
    waiting = ticket.requests.exclude(status__in=[RequestStatus.ISSUED, RequestStatus.CANCELLED])
    if waiting.exists():
        names = ", ".join(str(r) for r in waiting[:5])
        raise RuleViolation(
            f"{ticket} still waits for parts ({names}); issue or cancel them first.",
            field="ticket",
        )
    transition(
        ticket,
        TicketStatus.RESOLVED,
        actor=actor,
        table=TICKET_TRANSITIONS,
        stamp="resolved_at",
        reason=resolution,
        also={"resolution": resolution.strip()},
    )
    return ticket


@transaction.atomic
def ticket_close(actor, *, ticket: DamageTicket) -> DamageTicket:
    """Close a resolved ticket (a supervisor's sign-off)."""
    authorize(actor, "ticket_close")
    ticket = _lock_ticket(ticket)
    transition(ticket, TicketStatus.CLOSED, actor=actor, table=TICKET_TRANSITIONS, stamp="closed_at")
    return ticket
