"""Reads for the dashboards: plain data out of other apps' tables, in a fixed number of queries.

Every function here runs a constant number of queries however many machines, jobs, parts or tickets
there are (aggregated in the database, or fetched once and handed to :mod:`mes.dashboards.metrics`).
Windows are half-open: ``start <= t < end``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Count, DateTimeField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncDate, TruncHour
from django.utils import timezone

from mes.catalog.models import PartRevision
from mes.dashboards import metrics
from mes.inventory.models import StockItem
from mes.production.models import FeedstockLot, Job, JobState, Machine
from mes.repairs.models import DamageTicket, Severity, TicketStatus
from vision.models import Inspection, Verdict

CONCLUSIVE = (Verdict.ACCEPTED, Verdict.REJECTED)
RUN_DONE_STATES = (JobState.COMPLETED, JobState.FINISHED)
OPEN_TICKET_STATES = (TicketStatus.OPEN, TicketStatus.IN_PROGRESS)
MAX_CONTROL_POINTS = 200


# --- OEE --------------------------------------------------------------------------------------------
@dataclass
class MachinePeriod:
    """What one machine did in a window: its state history and the counts OEE needs."""

    machine_id: int
    name: str
    state_at_start: str | None
    changes: list[tuple[datetime, str]] = field(default_factory=list)
    queued_spans: list[tuple[datetime, datetime]] = field(default_factory=list)
    ideal_seconds: float = 0.0
    runs: int = 0
    inspected: int = 0
    accepted_first: int = 0

    def oee(self, start: datetime, end: datetime) -> metrics.Oee:
        intervals = metrics.state_intervals(self.state_at_start, self.changes, start, end)
        split = metrics.split_time(intervals, metrics.merge_spans(self.queued_spans))
        return metrics.oee(
            split,
            ideal_seconds=self.ideal_seconds,
            runs=self.runs,
            inspected=self.inspected,
            accepted_first=self.accepted_first,
        )


def machine_periods(start: datetime, end: datetime) -> list[MachinePeriod]:
    """Every machine's state history and production counts over ``[start, end)``, by name (5 queries).

    * state at ``start``: the latest history record at or before it (``None``: the machine did not exist);
    * changes: history records inside the window;
    * queued spans: for each job on the machine, from queued until started (or ended unstarted, or now);
    * ideal seconds and runs: ``Program.estimated_seconds`` summed over runs completed in the window;
    * inspected / accepted first: parts the machine made whose first conclusive inspection is in the window.
    """
    history = Machine.history.model.objects
    before = history.filter(id=OuterRef("pk"), history_date__lte=start).order_by(
        "-history_date", "-history_id"
    )
    machines = Machine.objects.annotate(state_at_start=Subquery(before.values("state")[:1])).order_by("name")
    periods = {m.pk: MachinePeriod(m.pk, m.name, m.state_at_start) for m in machines}

    changes = history.filter(history_date__gt=start, history_date__lt=end).order_by(
        "history_date", "history_id"
    )
    for machine_id, when, state in changes.values_list("id", "history_date", "state"):
        if machine_id in periods:
            periods[machine_id].changes.append((when, state))

    waits = (
        Job.objects.annotate(
            wait_end=Coalesce("started_at", "ended_at", Value(end, output_field=DateTimeField()))
        )
        .filter(queued_at__lt=end, wait_end__gt=start)
        .values_list("machine_id", "queued_at", "wait_end")
    )
    for machine_id, queued_at, wait_end in waits:
        if machine_id in periods:
            periods[machine_id].queued_spans.append((queued_at, wait_end))

    runs = (
        Job.objects.filter(state__in=RUN_DONE_STATES, ended_at__gte=start, ended_at__lt=end)
        .values("machine_id")
        .annotate(ideal=Sum("program__estimated_seconds"), runs=Count("pk"))
    )
    for row in runs:
        if row["machine_id"] in periods:
            periods[row["machine_id"]].ideal_seconds = float(row["ideal"] or 0)
            periods[row["machine_id"]].runs = row["runs"]

    firsts = (
        first_inspections(start, end)
        .filter(machine_id__isnull=False)
        .values("machine_id")
        .annotate(inspected=Count("pk"), accepted=Count("pk", filter=Q(first_verdict=Verdict.ACCEPTED)))
        .order_by()
    )
    for row in firsts:
        if row["machine_id"] in periods:
            periods[row["machine_id"]].inspected = row["inspected"]
            periods[row["machine_id"]].accepted_first = row["accepted"]
    return list(periods.values())


def first_inspections(start: datetime, end: datetime):
    """Stock items whose first conclusive inspection falls in ``[start, end)``, annotated with its
    time (``first_at``) and verdict (``first_verdict``)."""
    first = Inspection.objects.filter(stock_item=OuterRef("pk"), verdict__in=CONCLUSIVE).order_by(
        "created_at", "pk"
    )
    return StockItem.objects.annotate(
        first_at=Subquery(first.values("created_at")[:1]),
        first_verdict=Subquery(first.values("verdict")[:1]),
    ).filter(first_at__gte=start, first_at__lt=end)


# --- per day or hour --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Slot:
    """Parts made and first-inspected in one calendar day, or one clock hour, of the current time zone."""

    start: date | datetime  # the date, or the aware start of the hour
    made: int
    inspected: int
    accepted_first: int

    @property
    def first_pass_yield(self) -> float | None:
        return metrics.ratio(self.accepted_first, self.inspected)


def production_slots(start: datetime, end: datetime, *, hourly: bool = False) -> list[Slot]:
    """Parts made (serialised by a job) and first-pass results per calendar day, or per clock hour, of
    the current time zone; every day or hour of the window included, zeros too (2 queries)."""
    tz = timezone.get_current_timezone()
    trunc = TruncHour if hourly else TruncDate
    made = dict(
        StockItem.objects.filter(job__isnull=False, created_at__gte=start, created_at__lt=end)
        .annotate(slot=trunc("created_at", tzinfo=tz))
        .values("slot")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("slot", "n")
    )
    passes = {
        row["slot"]: row
        for row in first_inspections(start, end)
        .annotate(slot=trunc("first_at", tzinfo=tz))
        .values("slot")
        .annotate(inspected=Count("pk"), accepted=Count("pk", filter=Q(first_verdict=Verdict.ACCEPTED)))
        .order_by()
    }
    spans = metrics.hours_between if hourly else metrics.days_between
    out = []
    for slot in spans(timezone.localtime(start, tz), timezone.localtime(end, tz)):
        row = passes.get(slot, {})
        out.append(Slot(slot, made.get(slot, 0), row.get("inspected", 0), row.get("accepted", 0)))
    return out


# --- tickets ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TicketAges:
    severity: str
    label: str
    counts: tuple[int, ...]  # one per metrics.AGE_BUCKETS

    @property
    def total(self) -> int:
        return sum(self.counts)


def open_tickets_by_age(now: datetime) -> list[TicketAges]:
    """Open and in-progress tickets per severity (most urgent first), counted per age bucket (1 query).

    Age is ``now - created_at``; bucket upper bounds are exclusive (a ticket exactly 4 h old is 4-24 h).
    """
    counts = {}
    lower = None
    for n, (_, upper) in enumerate(metrics.AGE_BUCKETS):
        # created_at in (now - upper, now - lower]: age in [lower, upper)
        cond = Q()
        if upper is not None:
            cond &= Q(created_at__gt=now - upper)
        if lower is not None:
            cond &= Q(created_at__lte=now - lower)
        counts[f"b{n}"] = Count("pk", filter=cond)
        lower = upper
    rows = {
        row["severity"]: row
        for row in DamageTicket.objects.filter(status__in=OPEN_TICKET_STATES)
        .values("severity")
        .annotate(**counts)
        .order_by()
    }
    return [
        TicketAges(
            severity.value,
            severity.label,
            tuple(rows.get(severity.value, {}).get(f"b{n}", 0) for n in range(len(metrics.AGE_BUCKETS))),
        )
        for severity in Severity
    ]


# --- feedstock --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Balance:
    material: str
    unit: str
    on_hand: Decimal
    demand: Decimal

    @property
    def shortfall(self) -> Decimal:
        return max(self.demand - self.on_hand, Decimal(0))

    @property
    def short(self) -> bool:
        return self.demand > self.on_hand


def feedstock_balance() -> list[Balance]:
    """Feedstock on hand (sum of lots) against the demand of queued jobs, per material and unit (2 queries).

    A job is one run of its program, and a run uses ``Program.material_use`` (what job start checks and
    run completion deducts), so demand = Σ material_use over queued jobs. Materials are matched as job
    start matches them: case and surrounding spaces ignored, units exact.
    """
    on_hand: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    demand: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    names: dict[tuple[str, str], str] = {}
    queued = (
        Job.objects.filter(state=JobState.QUEUED)
        .values("program__material", "program__material_unit")
        .annotate(total=Sum("program__material_use"))
        .order_by()
    )
    # The catalogue's spelling names a material; else the spelling of its largest lot (any database order).
    for row in sorted(queued, key=lambda r: r["program__material"]):
        key = (row["program__material"].strip().lower(), row["program__material_unit"])
        names.setdefault(key, row["program__material"].strip())
        demand[key] += row["total"] or Decimal(0)
    lots = FeedstockLot.objects.values("material", "unit").annotate(total=Sum("quantity_on_hand")).order_by()
    for row in sorted(lots, key=lambda r: (-(r["total"] or 0), r["material"])):
        key = (row["material"].strip().lower(), row["unit"])
        names.setdefault(key, row["material"].strip())
        on_hand[key] += row["total"] or Decimal(0)
    return [
        Balance(names[key], key[1], on_hand.get(key, Decimal(0)), demand.get(key, Decimal(0)))
        for key in sorted(names, key=lambda k: (names[k].lower(), k[1]))
    ]


# --- control chart ----------------------------------------------------------------------------------
def revisions() -> list[PartRevision]:
    """Every part revision with its part, for the control chart's choice (1 query)."""
    return list(PartRevision.objects.select_related("part").order_by("part__number", "revision"))


@dataclass(frozen=True)
class Measured:
    when: datetime
    serial: str
    value: float


def measurements(revision_id: int, name: str, start: datetime, end: datetime) -> list[Measured]:
    """Values of the dimension ``name`` measured on parts of a revision in ``[start, end)``, oldest first
    (1 query). Overrides are left out: they repeat the measurements of the inspection they overturn.
    At most the latest :data:`MAX_CONTROL_POINTS` inspections are read."""
    rows = (
        Inspection.objects.filter(
            stock_item__revision_id=revision_id,
            overrides__isnull=True,
            created_at__gte=start,
            created_at__lt=end,
        )
        .order_by("-created_at", "-pk")
        .values_list("created_at", "stock_item__serial", "measurements")[:MAX_CONTROL_POINTS]
    )
    found = []
    for when, serial, data in reversed(list(rows)):
        value = metrics.measured_value(data, name)
        if value is not None:
            found.append(Measured(when, serial, value))
    return found
