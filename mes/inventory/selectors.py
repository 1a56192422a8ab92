"""Reads of inventory state that services and views share."""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, F, Q, QuerySet

from mes.inventory.models import HELD_FOR_REQUEST, Nonconformance, StockItem, StockStatus
from mes.repairs.models import PartRequest, RequestStatus
from vision.models import Inspection


def held_units(request: PartRequest) -> int:
    """Units reserved or issued for ``request``."""
    return StockItem.objects.filter(reserved_for=request, status__in=HELD_FOR_REQUEST).count()


def issued_units(request: PartRequest) -> int:
    return StockItem.objects.filter(reserved_for=request, status=StockStatus.ISSUED).count()


def requests_short_of_parts(revision_id: int) -> QuerySet[PartRequest]:
    """Open requests for a revision that still lack units, most urgent first.

    Urgency: life-safety before critical before routine, then the earliest needed-by date (requests with
    none come after those with one), then the oldest request.
    """
    return (
        PartRequest.objects.filter(revision_id=revision_id, status=RequestStatus.OPEN)
        .annotate(held=Count("stock_items", filter=Q(stock_items__status__in=HELD_FOR_REQUEST)))
        .filter(held__lt=F("quantity"))
        .order_by("severity_rank", F("needed_by").asc(nulls_last=True), "created_at", "pk")
    )


def available_stock(revision_id: int) -> QuerySet[StockItem]:
    """Accepted, unreserved units of a revision, oldest first (first in, first out)."""
    return StockItem.objects.filter(revision_id=revision_id, status=StockStatus.ACCEPTED).order_by(
        "created_at", "pk"
    )


def stock_summary(revision_id: int) -> dict[str, int]:
    """Count of units of a revision in each status."""
    rows = (
        StockItem.objects.filter(revision_id=revision_id).values("status").annotate(n=Count("pk")).order_by()
    )
    return {row["status"]: row["n"] for row in rows}


# --- pages: stock counts, serial search, genealogy ---------------------------------------------------------
STATUS_ORDER = tuple(StockStatus.values)
SEARCH_LIMIT = 50


@dataclass
class StockRow:
    """One line of the stock table: a revision at a location, with a count per status."""

    revision_id: int
    part_number: str
    part_name: str
    revision: str
    location: str
    counts: list[int]
    total: int


def stock_table(
    *, revision_id: int | None = None, status: str | None = None, location_id: int | None = None
) -> list[StockRow]:
    """Units counted by part revision and location, one column per status (in :data:`STATUS_ORDER`).

    Filters narrow the units counted; one aggregate query whatever the number of units.
    """
    units = StockItem.objects.all()
    if revision_id:
        units = units.filter(revision_id=revision_id)
    if status:
        units = units.filter(status=status)
    if location_id:
        units = units.filter(location_id=location_id)
    groups = (
        units.values(
            "revision_id",
            "revision__part__number",
            "revision__part__name",
            "revision__revision",
            "location__code",
        )
        .annotate(n=Count("pk"))
        .values_list(
            "revision_id",
            "revision__part__number",
            "revision__part__name",
            "revision__revision",
            "location__code",
            "status",
            "n",
        )
        .order_by("revision__part__number", "revision__revision", "location__code", "status")
    )
    rows: dict[tuple, StockRow] = {}
    for rev_id, number, name, revision, location, unit_status, n in groups:
        key = (rev_id, location)
        if key not in rows:
            rows[key] = StockRow(rev_id, number, name, revision, location or "", [0] * len(STATUS_ORDER), 0)
        rows[key].counts[STATUS_ORDER.index(unit_status)] += n
        rows[key].total += n
    return list(rows.values())


def stock_items_by_serial(query: str) -> tuple[StockItem | None, list[StockItem]]:
    """Search by serial: ``(exact hit, [])`` for an exact (case-insensitive) match, else ``(None, units whose
    serial starts with the query)`` (at most :data:`SEARCH_LIMIT`, by serial)."""
    query = query.strip()
    if not query:
        return None, []
    exact = StockItem.objects.filter(serial__iexact=query).first()
    if exact is not None:
        return exact, []
    found = (
        StockItem.objects.filter(serial__istartswith=query)
        .select_related("revision__part", "location")
        .order_by("serial")[:SEARCH_LIMIT]
    )
    return None, list(found)


@dataclass
class TimelineEntry:
    """One recorded change of a unit or of one of its nonconformances."""

    when: datetime
    who: str
    subject: str
    change: str
    reason: str


@dataclass
class Genealogy:
    """Everything known about one serialised unit: where it came from and every change since."""

    item: StockItem
    inspections: list = field(default_factory=list)
    nonconformances: list = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)


GENEALOGY_RELATIONS = (
    "revision__part",
    "location",
    "job__program",
    "job__work_order__part_request__ticket",
    "job__machine",
    "job__operator",
    "machine",
    "feedstock_lot",
    "operator",
    "reserved_for__ticket",
    "issued_to",
)


def _who(user) -> str:
    if user is None:
        return "system"
    return user.get_full_name() or user.username


def stock_item_genealogy(serial: str) -> Genealogy:
    """The genealogy of the unit ``serial`` (raises StockItem.DoesNotExist): the ticket and request it is
    made, reserved or issued for, its work order, job, machine, program, feedstock lot and operator, every
    inspection (newest first), every nonconformance, and every recorded change of the unit and of its
    nonconformances, oldest first. Five queries whatever the unit's history."""
    item = StockItem.objects.select_related(*GENEALOGY_RELATIONS).get(serial=serial)
    inspections = list(
        Inspection.objects.filter(stock_item=item)
        .select_related("station", "calibration__station", "inspector")
        .order_by("-created_at", "-pk")
    )
    ncrs = list(
        Nonconformance.objects.filter(stock_item=item).select_related("closed_by").order_by("raised_at", "pk")
    )
    timeline = [
        TimelineEntry(
            h.history_date,
            _who(h.history_user),
            "part",
            f"{h.get_history_type_display().lower()}: {h.get_status_display()}",
            h.history_change_reason or "",
        )
        for h in item.history.select_related("history_user")
    ]
    ncr_history = Nonconformance.history.filter(stock_item_id=item.pk).select_related("history_user")
    timeline += [
        TimelineEntry(
            h.history_date,
            _who(h.history_user),
            f"NCR-{h.id:05d}",
            f"{h.get_history_type_display().lower()}: {h.get_disposition_display()}",
            h.history_change_reason or "",
        )
        for h in ncr_history
    ]
    timeline.sort(key=lambda entry: entry.when)
    return Genealogy(item, inspections, ncrs, timeline)
