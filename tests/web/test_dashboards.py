"""Dashboards: pure metrics and chart geometry against hand-computed values, and the pages on real data."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from mes.catalog.models import Program
from mes.core.roles import Role
from mes.dashboards import charts, metrics, panels, selectors
from mes.inventory.models import StockItem
from mes.production import services as production
from mes.production.models import FeedstockLot, Job, Machine
from mes.repairs import services as repairs
from tests.factories import BRACKET_SPEC
from vision import services as vision
from vision.models import Inspection

H = timedelta(hours=1)
T0 = datetime(2030, 1, 1, tzinfo=UTC)
OVERVIEW_CHARTS = ("chart-oee", "chart-throughput", "chart-yield", "chart-tickets", "chart-feedstock")


# --- OEE from known intervals -------------------------------------------------------------------------
def test_state_intervals_cut_the_window_at_every_change_and_ignore_changes_outside_it():
    changes = [(T0 - H, "running"), (T0 + 2 * H, "running"), (T0 + 5 * H, "idle"), (T0 + 20 * H, "error")]
    got = metrics.state_intervals("idle", changes, T0, T0 + 10 * H)
    assert [(i.start, i.end, i.state) for i in got] == [
        (T0, T0 + 2 * H, "idle"),
        (T0 + 2 * H, T0 + 5 * H, "running"),
        (T0 + 5 * H, T0 + 10 * H, "idle"),
    ]


def test_oee_of_known_intervals_matches_the_hand_computed_value():
    # 0-1 h idle with a job queued (downtime), 1-5 running, 5-6 paused, 6-8 running, 8-9 error,
    # 9-10 maintenance (not planned). Running 6 h of 9 h planned.
    changes = [
        (T0 + 1 * H, "running"),
        (T0 + 5 * H, "paused"),
        (T0 + 6 * H, "running"),
        (T0 + 8 * H, "error"),
        (T0 + 9 * H, "maintenance"),
    ]
    intervals = metrics.state_intervals("idle", changes, T0, T0 + 10 * H)
    split = metrics.split_time(intervals, metrics.merge_spans([(T0 - H, T0 + 1 * H)]))
    assert split.running == 6 * 3600 and split.planned == 9 * 3600 and split.excluded == 3600
    # Ideal: 3 runs of a 1.5 h program = 4.5 h in 6 h running; 9 of 10 parts accepted first time.
    result = metrics.oee(split, ideal_seconds=3 * 5400, runs=3, inspected=10, accepted_first=9)
    assert result.availability == pytest.approx(6 / 9)
    assert result.performance == pytest.approx(0.75)
    assert result.quality == pytest.approx(0.9)
    assert result.oee == pytest.approx(6 / 9 * 0.75 * 0.9)  # 0.45


def test_idle_counts_as_downtime_only_while_work_is_queued():
    intervals = metrics.state_intervals("idle", [(T0 + 4 * H, "running")], T0, T0 + 6 * H)
    # Work was queued from 1 h to 2 h and from 1.5 h to 3 h (overlapping: 2 h in all).
    spans = metrics.merge_spans([(T0 + 1 * H, T0 + 2 * H), (T0 + 1.5 * H, T0 + 3 * H)])
    split = metrics.split_time(intervals, spans)
    assert split.idle_with_work == 2 * 3600 and split.idle_without_work == 2 * 3600
    assert metrics.oee(split, ideal_seconds=0, runs=0, inspected=0, accepted_first=0).availability == 0.5


def test_performance_is_capped_at_one():
    split = metrics.TimeSplit(running=3600)
    assert metrics.oee(split, ideal_seconds=7200, runs=2, inspected=1, accepted_first=1).performance == 1.0


def test_zero_denominators_give_none_not_zero_or_an_error():
    idle = metrics.TimeSplit(excluded=3600)
    nothing = metrics.oee(idle, ideal_seconds=0, runs=0, inspected=0, accepted_first=0)
    assert [nothing.availability, nothing.performance, nothing.quality, nothing.oee] == [None] * 4
    # Planned but never running: availability 0, performance undefined, so OEE undefined.
    stuck = metrics.oee(metrics.TimeSplit(error=3600), ideal_seconds=0, runs=0, inspected=2, accepted_first=1)
    assert stuck.availability == 0 and stuck.performance is None and stuck.oee is None
    assert panels.fraction(None) == "—" and panels.fraction(0.5) == "50.0%"
    assert metrics.ratio(1, 0) is None


# --- control limits and capability -------------------------------------------------------------------
def test_individuals_control_limits_match_hand_computed_values():
    # mean 11; moving ranges 2, 1, 2, 4 -> MRbar 2.25; limits 11 +/- 2.66 * 2.25 = 16.985 / 5.015
    limits = metrics.control_limits([10, 12, 11, 13, 9])
    assert limits.centre == pytest.approx(11)
    assert limits.mean_moving_range == pytest.approx(2.25)
    assert limits.ucl == pytest.approx(16.985) and limits.lcl == pytest.approx(5.015)
    assert metrics.out_of_control([10, 17, 5, 16.9], limits) == [False, True, True, False]
    assert metrics.control_limits([10]) is None


# Limits 0 +/- 3, so the sigma zones are 1 wide.
UNIT_LIMITS = metrics.ControlLimits(centre=0.0, mean_moving_range=3 / metrics.E2, ucl=3.0, lcl=-3.0)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # Rule 1: beyond a limit. A lone point beyond 2 sigma breaks nothing else.
        ([0.0, 3.5, 0.0, -3.2], [(), (1,), (), (1,)]),
        # Rule 2: two of three beyond 2 sigma on one side marks those two, not the point between them.
        ([2.5, 0.0, 2.1, 0.0], [(2,), (), (2,), ()]),
        ([2.5, 0.0, -2.1, 0.0], [(), (), (), ()]),  # on opposite sides: no signal
        # Rule 3: four of five beyond 1 sigma on one side.
        ([1.5, 1.2, -0.5, 1.1, 1.3, 0.0], [(3,), (3,), (), (3,), (3,), ()]),
        ([1.5, 1.2, -0.5, 1.1, 0.0, 1.3], [(), (), (), (), (), ()]),  # three of five, then three of five
        # Rule 4: eight in a row on one side; seven are not enough.
        ([0.1] * 8 + [-0.1], [(4,)] * 8 + [()]),
        ([0.1] * 7 + [-0.1] + [0.1] * 7, [()] * 15),
        # A run and a point beyond the limit together.
        ([0.2] * 7 + [3.4], [(4,)] * 7 + [(1, 4)]),
    ],
)
def test_western_electric_rules_mark_the_points_that_break_them(values, expected):
    assert metrics.rule_signals(values, UNIT_LIMITS) == expected


def test_rule_signals_without_limits_are_empty():
    assert metrics.rule_signals([1.0], None) == [()]


def test_cp_and_cpk_match_hand_computed_values():
    # sigma = 2.25 / 1.128 = 1.99468; Cp = (17 - 8) / 6 sigma = 0.75199; Cpk = min(6, 3) / 3 sigma = 0.50133
    result = metrics.capability([10, 12, 11, 13, 9], lsl=8, usl=17)
    assert result.sigma == pytest.approx(1.994681, rel=1e-6)
    assert result.cp == pytest.approx(0.751999, rel=1e-5)
    assert result.cpk == pytest.approx(0.501333, rel=1e-5)


def test_capability_needs_a_few_points_and_spread():
    assert metrics.capability([10, 12, 11, 13], lsl=8, usl=17) is None  # fewer than 5
    flat = metrics.capability([10.0] * 6, lsl=8, usl=17)
    assert flat.cp is None and flat.cpk is None


def test_drawing_dimensions_and_measured_values_follow_the_pipeline_names():
    dims = {d.name: d for d in metrics.spec_dimensions(BRACKET_SPEC)}
    assert {"length", "width", "H1.diameter", "H1.x", "H3.y"} <= set(dims)
    assert (dims["H1.diameter"].lsl, dims["H1.diameter"].usl) == pytest.approx((6.4, 6.6))
    assert (dims["length"].lsl, dims["length"].usl) == pytest.approx((79.8, 80.2))
    assert metrics.spec_dimensions({"outline": "not a drawing"}) == []  # read by the one drawing module
    record = [{"name": "H1.diameter", "actual": 6.51, "nominal": 6.5}, {"name": "length", "value": 80.1}]
    assert metrics.measured_value(record, "H1.diameter") == 6.51
    assert metrics.measured_value(record, "length") == 80.1  # posted by hand
    assert metrics.measured_value(record, "H2.diameter") is None
    assert metrics.measured_value("garbage", "length") is None


def test_age_buckets_have_exclusive_upper_bounds():
    assert metrics.age_bucket(timedelta(hours=3, minutes=59)) == "< 4 h"
    assert metrics.age_bucket(timedelta(hours=4)) == "4-24 h"
    assert metrics.age_bucket(timedelta(days=2)) == "1-3 d"
    assert metrics.age_bucket(timedelta(days=30)) == "> 3 d"


# --- chart geometry -----------------------------------------------------------------------------------
def _bar_chart(values, **kwargs):
    return charts.bar_chart(
        testid="t",
        title="T",
        desc="d",
        x_label="x",
        y_label="y",
        categories=[str(n) for n in range(len(values))],
        series=[charts.Series("S", values)],
        **kwargs,
    )


def test_bar_heights_are_proportional_to_values_from_one_baseline():
    chart = _bar_chart([10, 20, 5], y_max=40)
    heights = [r.height for r in chart.rects]
    assert heights[1] == pytest.approx(2 * heights[0]) and heights[2] == pytest.approx(heights[0] / 2)
    assert heights[1] == pytest.approx(chart.frame.height / 2)  # 20 of 40
    assert {round(r.y + r.height, 6) for r in chart.rects} == {chart.frame.bottom}
    assert [t.text for t in chart.y_ticks][-1] == "40"


def test_bar_scale_rounds_up_and_none_draws_nothing():
    chart = _bar_chart([3, None, 7])
    assert len(chart.rects) == 2
    assert chart.rects[1].height == pytest.approx(chart.frame.height * 7 / 10)  # scale 0..10
    assert chart.table_rows[1] == ["1", "—"]


def test_stacked_bars_sit_on_each_other():
    chart = charts.bar_chart(
        testid="t",
        title="T",
        desc="d",
        x_label="x",
        y_label="y",
        categories=["a"],
        series=[charts.Series("one", [2], "a0"), charts.Series("two", [3], "a1")],
        stacked=True,
        y_max=10,
    )
    low, high = chart.rects
    assert high.y + high.height == pytest.approx(low.y)
    assert high.height == pytest.approx(1.5 * low.height)
    assert [text for text, _ in chart.legend] == ["one", "two"]


def test_line_chart_breaks_at_missing_values():
    chart = charts.line_chart(
        testid="t",
        title="T",
        desc="d",
        x_label="x",
        y_label="y",
        categories=list("abcde"),
        series=[charts.Series("S", [1.0, 0.5, None, 0.25, 0.75])],
        y_max=1.0,
    )
    assert len(chart.points) == 4 and len(chart.lines) == 2
    assert chart.points[1].cy == pytest.approx(chart.frame.top + chart.frame.height / 2)


def test_nice_ceiling():
    assert [charts.nice_ceiling(v) for v in (0, 0.7, 3, 7, 12, 26, 180)] == [1, 1, 5, 10, 20, 50, 200]


def test_control_chart_flags_points_and_keeps_every_limit_in_view():
    chart = charts.control_chart(
        testid="t",
        title="T",
        desc="d",
        x_label="x",
        y_label="y",
        labels=["a", "b", "c"],
        values=[1.0, 1.1, 2.0],
        signals=[(), (4,), (1, 4)],
        rules=[("USL", 3.0, "usl"), ("LSL", 0.0, "lsl")],
    )
    assert [p.css for p in chart.points] == ["in", "run", "out"]
    assert all(chart.frame.top <= r.y <= chart.frame.bottom for r in chart.rules)
    assert [row[-1] for row in chart.table_rows] == ["", "rule 4", "rules 1, 4"]
    assert chart.points[2].tip.endswith("(out of control: rules 1, 4)")


# --- pages --------------------------------------------------------------------------------------------
def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.MACHINIST, Role.ENGINEER, Role.INSPECTOR, Role.SUPERVISOR])
def test_every_chart_is_on_the_pages_for_people(shop, role):
    client = client_for(shop.user(role))
    for period in ("24h", "7d", "30d", "nonsense"):
        page = client.get(reverse("dashboards:home"), {"period": period})
        assert page.status_code == 200
        html = page.content.decode()
        for testid in OVERVIEW_CHARTS:
            assert f'<svg data-testid="{testid}"' in html, (testid, period)
    control = client.get(reverse("dashboards:control")).content.decode()
    assert '<svg data-testid="chart-control"' in control and 'data-testid="cpk"' in control


@pytest.mark.django_db
def test_station_accounts_are_refused(shop):
    client = client_for(shop.station_user)
    assert client.get(reverse("dashboards:home")).status_code == 403
    assert client.get(reverse("dashboards:control")).status_code == 403


def _queue_jobs_on_the_mill(shop, quantity: int) -> list[Job]:
    """A ticket and part request whose work order queues ``quantity`` one-part jobs on the mill."""
    shop.printer.state = "maintenance"
    shop.printer.save()
    ticket = repairs.ticket_file(
        shop.supervisor, sector=shop.sector, module=shop.module, severity="critical", description="breach"
    )
    request = repairs.part_request_create(
        shop.supervisor, ticket=ticket, revision=shop.revision, quantity=quantity
    )
    return list(request.work_orders.get().jobs.order_by("pk"))


def _rewrite_history(machine: Machine, changes) -> None:
    """Replace the machine's recorded state changes by ``changes`` [(when, state)]."""
    history = Machine.history.model
    row = history.objects.filter(id=machine.pk).first()
    history.objects.filter(id=machine.pk).delete()
    for when, state in changes:
        row.history_id, row.history_date, row.state, row.history_type = None, when, state, "~"
        row.save()


def _metric(html: str, machine: str, name: str) -> str:
    row = re.search(rf'<tr data-machine="{machine}">(.*?)</tr>', html, re.S).group(1)
    return re.search(rf'data-metric="{name}">(?:<strong>)?([^<]*)<', row).group(1)


@pytest.mark.django_db
def test_oee_of_a_machine_with_a_constructed_history(shop):
    Program.objects.filter(pk=shop.mill_program.pk).update(estimated_seconds=5400)  # 1.5 h ideal per run
    jobs = _queue_jobs_on_the_mill(shop, 3)
    items = []
    for job in jobs:
        production.job_start(shop.machinist, job=job, lot=shop.blanks)
        items += production.job_finish(shop.machinist, job=job)
    vision.inspection_record(shop.inspector, stock_item=items[0], verdict="accepted")
    vision.inspection_record(shop.inspector, stock_item=items[1], verdict="rejected", reason="burr")
    vision.inspection_record(shop.inspector, stock_item=items[2], verdict="unable", reason="glare")
    vision.inspection_record(shop.inspector, stock_item=items[2], verdict="accepted")  # first conclusive
    now = timezone.now()
    # The rejection queued a replacement; this test is about the three runs, so cancel it.
    for job in Job.objects.filter(state="queued"):
        production.job_cancel(shop.machinist, job=job)
        Job.objects.filter(pk=job.pk).update(ended_at=now - 30 * H)
    # Last 24 h: offline until 10 h ago, idle with a job queued for 1 h, running 4 h, paused 1 h,
    # running 2 h, error 1 h, then idle with nothing queued. Running 6 h of 9 h planned.
    _rewrite_history(
        shop.mill,
        [
            (now - 30 * H, "offline"),
            (now - 10 * H, "idle"),
            (now - 9 * H, "running"),
            (now - 5 * H, "paused"),
            (now - 4 * H, "running"),
            (now - 2 * H, "error"),
            (now - 1 * H, "idle"),
        ],
    )
    Job.objects.filter(pk=jobs[0].pk).update(
        queued_at=now - 10 * H, started_at=now - 9 * H, ended_at=now - 8 * H
    )
    for n, job in enumerate(jobs[1:], start=1):
        Job.objects.filter(pk=job.pk).update(
            queued_at=now - 9 * H, started_at=now - 8 * H, ended_at=now - (8 - n) * H
        )

    mill = next(p for p in selectors.machine_periods(now - 24 * H, now) if p.name == "Mill-1")
    result = mill.oee(now - 24 * H, now)
    assert result.availability == pytest.approx(6 / 9, rel=1e-4)
    assert result.performance == pytest.approx(0.75, rel=1e-4)  # 3 x 1.5 h ideal in 6 h running
    assert (result.inspected, result.accepted_first) == (3, 2)
    assert result.oee == pytest.approx(6 / 9 * 0.75 * 2 / 3, rel=1e-4)

    html = client_for(shop.engineer).get(reverse("dashboards:home"), {"period": "24h"}).content.decode()
    assert _metric(html, "Mill-1", "availability") == "66.7%"
    assert _metric(html, "Mill-1", "performance") == "75.0%"
    assert _metric(html, "Mill-1", "quality") == "66.7%"
    assert _metric(html, "Mill-1", "oee") == "33.3%"
    # The printer stood in maintenance: nothing planned, nothing run, nothing inspected.
    assert _metric(html, "Printer-1", "availability") == "—" and _metric(html, "Printer-1", "oee") == "—"


@pytest.mark.django_db
def test_state_changes_made_by_the_services_feed_availability(shop):
    job = _queue_jobs_on_the_mill(shop, 1)[0]
    production.job_start(shop.machinist, job=job, lot=shop.blanks)
    now = timezone.now()
    history = Machine.history.model.objects.filter(id=shop.mill.pk, state="running")
    assert history.exists()
    history.update(history_date=now - 2 * H)  # it has been running for two hours
    mill = next(p for p in selectors.machine_periods(now - 24 * H, now + H) if p.name == "Mill-1")
    result = mill.oee(now - 24 * H, now)
    assert result.running_seconds == pytest.approx(2 * 3600, abs=1)
    assert result.availability == pytest.approx(1.0, abs=1e-3)
    # Running with no run completed yet: performance 0 (nothing ideal done), quality undefined.
    assert result.performance == 0 and result.quality is None


def _next_noon_utc() -> datetime:
    """The next 12:00 UTC: a moment whose -2 h .. +1 h window lies inside one calendar day in the shop's
    zone (UTC), so the test below reads the same at any hour it runs, and lies after the fixtures' rows."""
    now = datetime.now(UTC)
    noon = now.replace(hour=12, minute=0, second=0, microsecond=0)
    return noon if noon > now else noon + timedelta(days=1)


@pytest.mark.django_db
def test_throughput_and_first_pass_yield_per_day(shop):
    # Pinned to noon: run at 23:xx the window's last day would be tomorrow (this test failed every night).
    with time_machine.travel(_next_noon_utc(), tick=True):
        _check_throughput_and_first_pass_yield(shop)


def _check_throughput_and_first_pass_yield(shop):
    jobs = _queue_jobs_on_the_mill(shop, 2)
    items = []
    for job in jobs:
        production.job_start(shop.machinist, job=job, lot=shop.blanks)
        items += production.job_finish(shop.machinist, job=job)
    vision.inspection_record(shop.inspector, stock_item=items[0], verdict="accepted")
    vision.inspection_record(shop.inspector, stock_item=items[1], verdict="rejected", reason="burr")
    now = timezone.now()
    today = selectors.production_slots(now - 2 * H, now + H)[-1]
    assert today.start == timezone.localdate()
    assert (today.made, today.inspected, today.accepted_first) == (2, 2, 1)
    assert today.first_pass_yield == 0.5
    hours = selectors.production_slots(now - 2 * H, now + H, hourly=True)
    assert [(h.made, h.inspected, h.accepted_first) for h in hours] == [(0, 0, 0)] * 2 + [
        (2, 2, 1),
        (0, 0, 0),
    ]
    assert hours[2].start == timezone.localtime(now).replace(minute=0, second=0, microsecond=0)

    client = client_for(shop.engineer)
    week = client.get(reverse("dashboards:home"), {"period": "7d"}).content.decode()
    throughput = week.split('data-testid="chart-throughput"')[1].split("</figure>")[0]
    assert "Parts made per day" in throughput and "Parts made: 2" in throughput
    assert throughput.count("<tr>") - 1 in (7, 8)  # a row per calendar day the window touches

    # The last 24 hours go by the hour: 24 or 25 clock hours, this one holding both parts.
    day = client.get(reverse("dashboards:home"), {"period": "24h"}).content.decode()
    throughput = day.split('data-testid="chart-throughput"')[1].split("</figure>")[0]
    assert "Parts made per hour" in throughput
    this_hour = f"{timezone.localtime(now):%H}:00"
    assert re.search(rf'<th scope="row">{this_hour}</th><td class="num">2</td>', throughput)
    assert throughput.count("<tr>") - 1 in (24, 25)
    yield_chart = day.split('data-testid="chart-yield"')[1].split("</figure>")[0]
    assert "First-pass yield: 50%" in yield_chart


def test_hours_follow_the_wall_clock_across_a_change_of_offset():
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 10, 25, 0, 30, tzinfo=berlin)  # clocks go back from 03:00 to 02:00 this day
    hours = metrics.hours_between(start, datetime(2026, 10, 26, 0, 0, tzinfo=berlin))
    assert len(hours) == 25 and len({h.astimezone(UTC) for h in hours}) == 25
    assert [f"{h:%H}" for h in hours[:5]] == ["00", "01", "02", "02", "03"]
    assert metrics.hours_between(start, start) == []


@pytest.mark.django_db
def test_open_tickets_are_counted_by_severity_and_age(shop):
    now = timezone.now()
    ages = {"life_safety": [1, 30], "critical": [5, 5, 100], "routine": [80]}
    for severity, hours in ages.items():
        for h in hours:
            ticket = repairs.ticket_file(
                shop.supervisor, sector=shop.sector, module=shop.module, severity=severity, description="x"
            )
            type(ticket).objects.filter(pk=ticket.pk).update(created_at=now - h * H)
    closed = repairs.ticket_file(
        shop.supervisor, sector=shop.sector, module=shop.module, severity="routine", description="done"
    )
    type(closed).objects.filter(pk=closed.pk).update(status="closed")
    rows = {row.severity: row.counts for row in selectors.open_tickets_by_age(now)}
    assert rows == {"life_safety": (1, 0, 1, 0), "critical": (0, 2, 0, 1), "routine": (0, 0, 0, 1)}
    html = client_for(shop.engineer).get(reverse("dashboards:home")).content.decode()
    critical = re.search(r'<tr data-severity="critical">(.*?)</tr>', html, re.S).group(1)
    assert re.findall(r'class="num">(?:<strong>)?(\d+)', critical) == ["0", "2", "0", "1", "3"]


@pytest.mark.django_db
def test_feedstock_shortfall_is_flagged(shop):
    FeedstockLot.objects.filter(pk=shop.blanks.pk).update(quantity_on_hand=Decimal(2))
    FeedstockLot.objects.create(
        code="al-2", material="al 6061 ", unit="blank", quantity_received=1, quantity_on_hand=Decimal("0.5")
    )
    _queue_jobs_on_the_mill(shop, 3)  # one blank per run, three runs
    balances = {(b.material, b.unit): b for b in selectors.feedstock_balance()}
    aluminium = balances[("Al 6061", "blank")]
    assert (aluminium.on_hand, aluminium.demand, aluminium.shortfall) == (Decimal("2.5"), 3, Decimal("0.5"))
    assert aluminium.short and not balances[("PLA", "g")].short

    html = client_for(shop.machinist).get(reverse("dashboards:home")).content.decode()
    row = re.search(r'<tr data-material="Al 6061"([^>]*)>(.*?)</tr>', html, re.S)
    assert 'data-shortfall="true"' in row.group(1) and "Short by 0.5 blank" in row.group(2)
    pla = re.search(r'<tr data-material="PLA"([^>]*)>', html).group(1)
    assert "shortfall" not in pla
    feedstock = html.split('data-testid="chart-feedstock"')[1].split("</svg>")[0]
    assert "short 0.5 blank" in feedstock and 'class="bar have short"' in feedstock


# Ten H1 diameters in time order: mean 6.525, MRbar 0.41 / 9 = 0.045556, UCL 6.64618, LCL 6.40382; the last
# is beyond the UCL (rule 1) and the nine before it are all below the centre line (rule 4).
# Spec 6.5 +/- 0.1: Cp = 0.2 / (6 * 0.040386) = 0.83, Cpk = 0.075 / (3 * 0.040386) = 0.62.
DIAMETERS = [6.50, 6.52, 6.48, 6.51, 6.49, 6.50, 6.51, 6.49, 6.50, 6.75]


def _inspect_diameters(shop, values, *, start):
    inspections = []
    for n, value in enumerate(values):
        item = StockItem.objects.create(
            serial=f"T-{start:%H%M}-{n}", revision=shop.revision, status="accepted"
        )
        inspection = Inspection.objects.create(
            stock_item=item,
            inspector=shop.inspector,
            verdict="accepted",
            measurements=[
                {
                    "name": "length",
                    "nominal": 80.0,
                    "actual": 80.01,
                    "deviation": 0.01,
                    "tolerance": 0.2,
                    "ok": True,
                },
                {
                    "name": "H1.diameter",
                    "nominal": 6.5,
                    "actual": value,
                    "deviation": 0,
                    "tolerance": 0.1,
                    "ok": True,
                },
            ],
        )
        Inspection.objects.filter(pk=inspection.pk).update(created_at=start + n * H)
        inspections.append(inspection)
    return inspections


@pytest.mark.django_db
def test_control_chart_points_limits_and_cpk(shop):
    now = timezone.now()
    inspections = _inspect_diameters(shop, DIAMETERS, start=now - 20 * H)
    # An override repeats its inspection's measurements: not a new point. An old one is outside the period.
    override = Inspection.objects.create(
        stock_item=inspections[0].stock_item,
        inspector=shop.inspector,
        verdict="rejected",
        measurements=inspections[0].measurements,
        overrides=inspections[0],
    )
    Inspection.objects.filter(pk=override.pk).update(created_at=now - H / 2)
    _inspect_diameters(shop, [9.9], start=now - 10 * 24 * H)

    client = client_for(shop.inspector)
    html = client.get(
        reverse("dashboards:control"), {"revision": shop.revision.pk, "dimension": "H1.diameter"}
    ).content.decode()
    svg = html.split('data-testid="chart-control"')[1].split("</svg>")[0]
    assert svg.count('<circle class="point') == 10
    assert svg.count('data-out="true"') == 10
    points = re.findall(r'<circle class="point (in|run|out)"', svg)
    assert points == ["run"] * 9 + ["out"]  # the last, in time order, is beyond the UCL
    for rule in ("UCL 6.6462", "Centre 6.525", "LCL 6.4038", "USL 6.6", "LSL 6.4"):
        assert rule in svg, rule
    assert re.search(r'data-testid="points">10<', html) and re.search(
        r'data-testid="out-of-control">10<', html
    )
    assert 'data-testid="rule-1">a point beyond the control limits (3 sigma): 1 point<' in html
    assert 'data-testid="rule-4">8 points in a row on the same side of the centre line: 9 points<' in html
    assert 'data-testid="rule-2"' not in html and 'data-testid="rule-3"' not in html
    cpk = html.split('data-testid="cpk"')[1].split("</div>")[0]
    assert '<span data-value="cpk">0.62</span>' in cpk and '<span data-value="cp">0.83</span>' in cpk

    # Another dimension of the same parts, and the same dimension with too few points.
    length = client.get(reverse("dashboards:control"), {"revision": shop.revision.pk, "dimension": "length"})
    assert "Outline length" in length.content.decode()
    short = client.get(
        reverse("dashboards:control"), {"revision": shop.revision.pk, "dimension": "H2.diameter"}
    ).content.decode()
    assert "Cp and Cpk need at least 5 measurements; this period has 0" in short


@pytest.mark.django_db
def test_overview_runs_the_same_number_of_queries_however_much_there_is(shop):
    client = client_for(shop.supervisor)
    url = reverse("dashboards:home")
    client.get(url)  # warm caches (content types, sessions)
    with CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200

    # More of everything: machines, jobs run and queued, parts, inspections, tickets, lots.
    for n in range(3):
        Machine.objects.create(
            name=f"Mill-{n + 2}",
            machine_type="cnc_mill",
            firmware="grbl",
            x_max=300,
            y_max=200,
            z_max=80,
            work_offsets={"G54": [10.0, 10.0, 50.0]},
        )
    jobs = _queue_jobs_on_the_mill(shop, 4)
    for job in jobs[:2]:
        production.job_start(shop.machinist, job=job, lot=shop.blanks)
        for item in production.job_finish(shop.machinist, job=job):
            vision.inspection_record(shop.inspector, stock_item=item, verdict="accepted")
    for severity in ("life_safety", "routine"):
        repairs.ticket_file(
            shop.supervisor, sector=shop.sector, module=shop.module, severity=severity, description="x"
        )
    production.feedstock_lot_receive(
        shop.supervisor, code="PETG-1", material="PETG", quantity=Decimal(5), unit="g"
    )

    with CaptureQueriesContext(connection) as large:
        assert client.get(url).status_code == 200
    assert len(large.captured_queries) == len(small.captured_queries), [
        q["sql"][:120] for q in large.captured_queries
    ]
    assert len(small.captured_queries) <= 15, len(small.captured_queries)


@pytest.mark.django_db
def test_control_page_query_count_does_not_grow_with_inspections(shop):
    client = client_for(shop.supervisor)
    url = reverse("dashboards:control")
    params = {"revision": shop.revision.pk, "dimension": "H1.diameter"}
    client.get(url, params)
    with CaptureQueriesContext(connection) as small:
        client.get(url, params)
    _inspect_diameters(shop, DIAMETERS, start=timezone.now() - 20 * H)
    with CaptureQueriesContext(connection) as large:
        client.get(url, params)
    assert len(large.captured_queries) == len(small.captured_queries)
