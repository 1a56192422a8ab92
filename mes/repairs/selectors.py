"""Reads of damage tickets and part requests for the engineers' pages.

Every function here reads a bounded number of queries whatever the number of requests, work orders, jobs and
units involved (relations are joined or prefetched, counts are annotated), so the ticket page can be polled
every few seconds while its parts are being made.
"""

from dataclasses import dataclass, field

from django.db.models import Case, Count, IntegerField, Prefetch, Q, QuerySet, Value, When

from mes.catalog.models import PartRevision
from mes.inventory.models import HELD_FOR_REQUEST, StockItem, StockStatus
from mes.production.models import Job, JobState, WorkOrder
from mes.repairs.models import SEVERITY_RANK, DamageTicket, Module, PartRequest, RequestStatus, TicketStatus

# Jobs whose parts are still to come: queued, on a machine, or done with the part still on the bed.
JOB_STATES_IN_PRODUCTION = (JobState.QUEUED, JobState.RUNNING, JobState.PAUSED, JobState.COMPLETED)
REQUEST_STATES_OPEN = (RequestStatus.OPEN, RequestStatus.READY)
TICKET_STATES_OPEN = (TicketStatus.OPEN, TicketStatus.IN_PROGRESS)
TICKET_LIST_LIMIT = 300


def ticket_list() -> QuerySet[DamageTicket]:
    """Tickets for the engineers' list: open ones first, then by severity, then oldest first.

    Each carries ``requests_total``, ``requests_ready`` and ``requests_done`` (issued or cancelled) counts.
    Closed tickets come last; at most :data:`TICKET_LIST_LIMIT` rows.
    """
    openness = Case(
        When(status__in=TICKET_STATES_OPEN, then=Value(0)),
        When(status=TicketStatus.RESOLVED, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    severity = Case(
        *(When(severity=name, then=Value(rank)) for name, rank in SEVERITY_RANK.items()),
        default=Value(9),
        output_field=IntegerField(),
    )
    done = [RequestStatus.ISSUED, RequestStatus.CANCELLED]
    return (
        DamageTicket.objects.select_related("sector", "module", "reporter")
        .annotate(
            openness=openness,
            severity_order=severity,
            requests_total=Count("requests", filter=~Q(requests__status=RequestStatus.CANCELLED)),
            requests_ready=Count("requests", filter=Q(requests__status=RequestStatus.READY)),
            requests_done=Count("requests", filter=Q(requests__status__in=done)),
        )
        .order_by("openness", "severity_order", "created_at", "pk")[:TICKET_LIST_LIMIT]
    )


def ticket_get(pk: int) -> DamageTicket:
    """One ticket with its sector, module, reporter and assignee (raises DoesNotExist)."""
    return DamageTicket.objects.select_related("sector", "module", "reporter", "assignee").get(pk=pk)


def ticket_history(ticket: DamageTicket) -> QuerySet:
    """Every recorded change of ``ticket``, newest first, with who made it."""
    return ticket.history.select_related("history_user").order_by("-history_date", "-history_id")


def modules_in_sector(sector_id) -> QuerySet[Module]:
    """Modules of one sector, by name; none when ``sector_id`` is empty or not a number."""
    try:
        sector_id = int(sector_id)
    except (TypeError, ValueError):
        return Module.objects.none()
    return Module.objects.filter(sector_id=sector_id).select_related("sector").order_by("name")


def revisions_requestable() -> QuerySet[PartRevision]:
    """Released revisions engineers may request, by part number then revision."""
    return (
        PartRevision.objects.filter(released=True).select_related("part").order_by("part__number", "revision")
    )


@dataclass
class RequestProgress:
    """What happened to one part request, end to end.

    ``held`` are the units reserved or issued for it; ``work_orders`` carry ``job_list`` (each job with
    its ``machine`` and ``output_items``, the units it made). ``error``/``error_action`` (and the
    ``typed_reason`` of a refused cancellation) are set by a view when an action on this request was
    refused, so the refusal shows next to that action.
    """

    request: PartRequest
    held: list[StockItem]
    work_orders: list[WorkOrder]
    error: str = ""
    error_action: str = ""
    typed_reason: str = ""
    jobs: list[Job] = field(init=False)

    def __post_init__(self):
        self.jobs = [job for wo in self.work_orders for job in wo.job_list]

    @property
    def reserved(self) -> list[StockItem]:
        """Units ready to issue."""
        return [item for item in self.held if item.status == StockStatus.RESERVED]

    @property
    def issued(self) -> list[StockItem]:
        return [item for item in self.held if item.status == StockStatus.ISSUED]

    @property
    def awaiting_inspection(self) -> list[StockItem]:
        """Units its jobs made that wait for inspection (they are reserved once accepted)."""
        return [
            item
            for job in self.jobs
            for item in job.output_items
            if item.status == StockStatus.AWAITING_INSPECTION
        ]

    @property
    def rejected(self) -> list[StockItem]:
        """Units its jobs made that failed inspection (a replacement job is queued for each)."""
        bad = (StockStatus.REJECTED, StockStatus.SCRAPPED)
        return [item for job in self.jobs for item in job.output_items if item.status in bad]

    @property
    def in_production(self) -> bool:
        """Whether anything for this request is still being made or inspected (the page keeps refreshing)."""
        if self.request.status not in REQUEST_STATES_OPEN:
            return False
        return any(job.state in JOB_STATES_IN_PRODUCTION for job in self.jobs) or bool(
            self.awaiting_inspection
        )

    @property
    def may_issue(self) -> bool:
        return self.request.status in REQUEST_STATES_OPEN and bool(self.reserved)

    @property
    def may_cancel(self) -> bool:
        return self.request.status in REQUEST_STATES_OPEN


def ticket_requests_progress(ticket: DamageTicket) -> list[RequestProgress]:
    """Every request of ``ticket`` (oldest first) with its units, work orders, jobs and their outputs.

    Six queries at most, whatever the number of requests, work orders, jobs and units.
    """
    jobs = Job.objects.select_related("machine").order_by("pk")
    jobs = jobs.prefetch_related(
        Prefetch("outputs", queryset=StockItem.objects.order_by("serial"), to_attr="output_items")
    )
    work_orders = WorkOrder.objects.order_by("pk").prefetch_related(
        Prefetch("jobs", queryset=jobs, to_attr="job_list")
    )
    requests = (
        PartRequest.objects.filter(ticket=ticket)
        .select_related("revision__part")
        .prefetch_related(
            Prefetch(
                "stock_items",
                queryset=StockItem.objects.filter(status__in=HELD_FOR_REQUEST).order_by("serial"),
                to_attr="held_items",
            ),
            Prefetch("work_orders", queryset=work_orders, to_attr="work_order_list"),
        )
        .order_by("created_at", "pk")
    )
    return [RequestProgress(r, r.held_items, r.work_order_list) for r in requests]


def request_of_ticket(ticket_pk: int, request_pk: int) -> PartRequest:
    """A request that belongs to the given ticket (raises DoesNotExist otherwise)."""
    return PartRequest.objects.select_related("ticket").get(pk=request_pk, ticket_id=ticket_pk)
