"""A real Celery worker on the vision queue inspects a posted photo and records the verdict."""

import uuid

import pytest

from mes.inventory.models import StockItem
from tests.factories import make_shop
from tests.support.worker import celery_worker, wait_until
from tests.vision import stations
from vision import services
from vision.models import InspectionRequest

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


def test_a_posted_photo_is_inspected_by_a_vision_worker(settings):
    queue = f"vision-{uuid.uuid4().hex[:8]}"  # this test's own queue on the shared broker
    settings.VISION_QUEUE = queue
    shop = make_shop()
    stations.configure(shop.station)
    stations.true_calibration(shop.station, shop.supervisor)
    item = stations.awaiting_item(shop)
    env = {"VISION_QUEUE": queue, "MEDIA_ROOT": str(settings.MEDIA_ROOT)}
    with celery_worker([queue], extra_env=env) as worker:
        request = services.inspection_request(
            shop.station_user,
            station=shop.station,
            stock_item=item,
            image_bytes=stations.part_photo("bracket"),
        )
        finished = wait_until(
            lambda: InspectionRequest.objects.get(pk=request.pk).status in ("done", "error"), timeout=60
        )
        assert finished, "".join(worker.output[-40:])
    request.refresh_from_db()
    assert request.status == "done", request.error
    assert request.inspection.verdict == "accepted"
    assert StockItem.objects.get(pk=item.pk).status == "reserved"
