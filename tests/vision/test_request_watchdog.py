"""Inspection requests whose worker died while running them end in error for a person, never a pass."""

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from mes.inventory.models import StockItem
from tests.vision import stations
from vision import runner, services, tasks
from vision.models import Inspection, InspectionRequest, RequestStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def calibrated(shop):
    stations.configure(shop.station)
    return stations.true_calibration(shop.station, shop.supervisor)


def _running(shop, seconds_ago: float) -> InspectionRequest:
    """A request claimed by a worker ``seconds_ago`` (the worker then died: nothing else happens)."""
    item = stations.awaiting_item(shop)
    request = services.inspection_request(
        shop.station_user, station=shop.station, stock_item=item, image_bytes=stations.part_photo("bracket")
    )
    InspectionRequest.objects.filter(pk=request.pk).update(
        status=RequestStatus.RUNNING, status_changed_at=timezone.now() - timedelta(seconds=seconds_ago)
    )
    return InspectionRequest.objects.get(pk=request.pk)


def test_a_request_running_too_long_ends_in_error_and_the_part_waits_for_a_person(shop, calibrated):
    dead = _running(shop, seconds_ago=900)
    failed = runner.fail_stale_requests(older_than_s=300)
    assert [r.pk for r in failed] == [dead.pk]
    dead.refresh_from_db()
    assert dead.status == "error" and dead.finished_at is not None
    assert "worker stopped" in dead.error and "person" in dead.error
    assert dead.inspection is None and not Inspection.objects.exists()
    assert StockItem.objects.get(pk=dead.stock_item.pk).status == ("awaiting_inspection")
    assert "worker stopped" in dead.history.first().history_change_reason


def test_a_recent_running_request_and_other_states_are_left_alone(shop, calibrated):
    busy = _running(shop, seconds_ago=10)
    queued_item = stations.awaiting_item(shop)
    queued = services.inspection_request(
        shop.station_user,
        station=shop.station,
        stock_item=queued_item,
        image_bytes=stations.part_photo("bracket"),
    )
    an_hour_ago = timezone.now() - timedelta(hours=1)
    InspectionRequest.objects.filter(pk=queued.pk).update(status_changed_at=an_hour_ago)
    assert runner.fail_stale_requests(older_than_s=300) == []
    assert InspectionRequest.objects.get(pk=busy.pk).status == "running"
    assert InspectionRequest.objects.get(pk=queued.pk).status == "queued"


def test_a_slow_worker_finishing_after_the_watchdog_records_nothing(shop, calibrated):
    dead = _running(shop, seconds_ago=900)
    runner.fail_stale_requests(older_than_s=300)
    # The "dead" worker was only slow: its late result must not become a verdict.
    assert runner.run_inspection(dead.pk) is None
    assert not Inspection.objects.exists()
    assert InspectionRequest.objects.get(pk=dead.pk).status == "error"


def test_the_beat_task_uses_the_setting_and_is_scheduled(shop, calibrated, settings):
    settings.VISION_REQUEST_STALE_AFTER_S = 60
    dead = _running(shop, seconds_ago=120)
    assert tasks.watchdog() == 1
    assert InspectionRequest.objects.get(pk=dead.pk).status == "error"
    assert tasks.watchdog() == 0
    entries = [e for e in django_settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "vision.watchdog"]
    assert len(entries) == 1 and entries[0]["schedule"] <= 120
