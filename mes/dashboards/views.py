"""Dashboards: the shop at a glance (OEE, output, yield, tickets, feedstock) and a control chart page.

Views only pick the period and the choices from the query string, call selectors, and hand their data to
:mod:`mes.dashboards.panels` for the pictures. Every choice is a plain GET link or form (works without
JavaScript); htmx swaps just the dashboard body and keeps the address bar in step.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.shortcuts import render
from django.utils import timezone

from mes.dashboards import metrics, panels, selectors
from mes.web import page_for

PERIODS = {  # key: (label, span, whether time series go by the hour instead of the day)
    "24h": ("Last 24 h", timedelta(hours=24), True),
    "7d": ("Last 7 days", timedelta(days=7), False),
    "30d": ("Last 30 days", timedelta(days=30), False),
}
DEFAULT_PERIOD = "7d"


@dataclass(frozen=True)
class Period:
    key: str
    label: str
    start: datetime
    end: datetime
    hourly: bool


def period_from(request) -> Period:
    """The period named by ``?period=`` (24h, 7d, 30d; anything else is the default, 7d), ending now."""
    key = request.GET.get("period", DEFAULT_PERIOD)
    if key not in PERIODS:
        key = DEFAULT_PERIOD
    label, span, hourly = PERIODS[key]
    end = timezone.now()
    return Period(key, label, end - span, end, hourly)


def _context(request, period: Period, **extra) -> dict:
    return {
        "period": period,
        "periods": [(key, label) for key, (label, _, _) in PERIODS.items()],
        **extra,
    }


@page_for("dashboards")
def home(request):
    """The overview: every panel for the chosen period."""
    period = period_from(request)
    oee_rows = panels.oee_rows(selectors.machine_periods(period.start, period.end), period.start, period.end)
    slots = selectors.production_slots(period.start, period.end, hourly=period.hourly)
    tickets = selectors.open_tickets_by_age(period.end)
    balances = selectors.feedstock_balance()
    context = _context(
        request,
        period,
        oee_rows=oee_rows,
        oee_chart=panels.oee_chart(oee_rows),
        throughput_chart=panels.throughput_chart(slots, hourly=period.hourly),
        yield_chart=panels.yield_chart(slots, hourly=period.hourly),
        tickets=tickets,
        age_buckets=[label for label, _ in metrics.AGE_BUCKETS],
        tickets_chart=panels.tickets_chart(tickets),
        balances=panels.feedstock_rows(balances),
        feedstock_chart=panels.feedstock_chart(balances),
    )
    return render(request, "dashboards/home.html", context)


@page_for("dashboards")
def control(request):
    """The control chart of one measured dimension of one revision (``?revision=&dimension=&period=``)."""
    period = period_from(request)
    revisions = selectors.revisions()
    revision = _chosen(revisions, request.GET.get("revision"))
    dimensions = metrics.spec_dimensions(revision.spec) if revision else []
    dimension = next((d for d in dimensions if d.name == request.GET.get("dimension")), None)
    dimension = dimension or (dimensions[0] if dimensions else None)
    panel = None
    if dimension is not None:
        points = selectors.measurements(revision.pk, dimension.name, period.start, period.end)
        panel = panels.control_panel(dimension, points)
    context = _context(
        request,
        period,
        revisions=revisions,
        revision=revision,
        dimensions=dimensions,
        dimension=dimension,
        panel=panel,
        extra_query=_keep(
            revision=revision.pk if revision else None, dimension=getattr(dimension, "name", None)
        ),
        min_points=metrics.MIN_CAPABILITY_POINTS,
        max_points=selectors.MAX_CONTROL_POINTS,
    )
    return render(request, "dashboards/control.html", context)


def _keep(**choices) -> str:
    """The choices (other than the period) as a query-string prefix, so period links keep them."""
    kept = {key: value for key, value in choices.items() if value is not None}
    return urlencode(kept) + "&" if kept else ""


def _chosen(revisions, wanted: str | None):
    """The revision whose pk is ``wanted``, else the first one (None when there are none)."""
    for revision in revisions:
        if str(revision.pk) == wanted:
            return revision
    return revisions[0] if revisions else None
