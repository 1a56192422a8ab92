"""A station's photo becomes an inspection: queued, run by the vision task, recorded through the backbone."""

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core.files.storage import default_storage

from mes.celery import app as celery_app
from mes.inventory.models import Nonconformance, StockItem
from tests.vision import stations
from vision import callbacks, runner, services, tasks
from vision.models import Calibration, Inspection, InspectionRequest

pytestmark = pytest.mark.django_db


@pytest.fixture
def calibrated(shop):
    stations.configure(shop.station)
    return stations.true_calibration(shop.station, shop.supervisor)


def run(shop, photo: bytes, item=None):
    """Post ``photo`` as the station and run its inspection as the vision task would."""
    item = item or stations.awaiting_item(shop)
    request = services.inspection_request(
        shop.station_user, station=shop.station, stock_item=item, image_bytes=photo
    )
    assert request.status == "queued"
    done = runner.run_inspection(request.pk)
    assert done is not None
    return done, StockItem.objects.get(pk=item.pk)


def test_a_good_part_is_accepted_into_stock_with_its_evidence(shop, calibrated):
    request, item = run(shop, stations.part_photo("bracket", "good", 0))
    assert request.status == "done", request.error
    inspection = request.inspection
    assert inspection.verdict == "accepted", inspection.reason
    assert item.status == "reserved"  # accepted and reserved for the open request it was made for
    assert inspection.station == shop.station and inspection.inspector == shop.station_user
    assert inspection.calibration == calibrated
    assert inspection.pipeline_version.startswith("vision-pipeline/")
    assert {"locate", "measure", "total"} <= set(inspection.timings)
    assert {m["name"] for m in inspection.measurements} >= {"length", "width", "H1.diameter"}
    assert inspection.deviations == []
    for stored in (inspection.image, inspection.annotated_image):
        assert default_storage.exists(stored.name)
        assert stored.open("rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert inspection.image.name == request.image.name


def test_a_defective_part_is_rejected_with_a_nonconformance(shop, calibrated):
    request, item = run(shop, stations.part_photo("bracket", "void", 0))
    inspection = request.inspection
    assert inspection.verdict == "rejected"
    assert item.status == "rejected"
    assert "void" in inspection.reason
    assert [d["type"] for d in inspection.defects] == ["void"]
    assert Nonconformance.objects.get(stock_item=item).inspection == inspection


def test_an_out_of_tolerance_part_records_its_deviations(shop, calibrated):
    request, item = run(shop, stations.part_photo("bracket", "missing_hole", 0))
    assert request.inspection.verdict == "rejected" and item.status == "rejected"
    request, item = run(shop, stations.part_photo("bracket", "wrong_length", 1))
    assert request.inspection.verdict == "rejected"
    assert [d["name"] for d in request.inspection.deviations] == ["length"]


@pytest.mark.parametrize(("parts", "code"), [(0, "no_part"), (2, "multiple_parts")])
def test_no_part_or_two_parts_are_unable_and_wait_for_a_person(shop, calibrated, parts, code):
    request, item = run(shop, stations.scene_photo(parts))
    assert request.inspection.verdict == "unable"
    assert code in request.inspection.reason
    assert item.status == "awaiting_inspection"
    assert not Nonconformance.objects.exists()


def test_a_stale_calibration_is_unable_never_a_pass(shop, calibrated, settings):
    settings.VISION_CALIBRATION_MAX_AGE_DAYS = 30
    Calibration.objects.filter(pk=calibrated.pk).update(created_at=calibrated.created_at - timedelta(days=40))
    request, item = run(shop, stations.part_photo("bracket", "good", 0))
    assert request.inspection.verdict == "unable"
    assert "recalibrate" in request.inspection.reason
    assert item.status == "awaiting_inspection"


def test_a_damaged_calibration_is_unable(shop, calibrated):
    Calibration.objects.filter(pk=calibrated.pk).update(camera={"K": [1, 2]})
    request, item = run(shop, stations.part_photo("bracket", "good", 0))
    assert request.inspection.verdict == "unable" and "malformed calibration" in request.inspection.reason
    assert item.status == "awaiting_inspection"


def test_a_second_delivery_of_the_task_changes_nothing(shop, calibrated):
    request, _ = run(shop, stations.part_photo("bracket", "good", 0))
    assert runner.run_inspection(request.pk) is None
    assert tasks.run_inspection(request.pk) == "already handled"
    assert Inspection.objects.count() == 1


def test_a_part_inspected_by_hand_meanwhile_ends_the_request_in_error(shop, calibrated):
    item = stations.awaiting_item(shop)
    request = services.inspection_request(
        shop.station_user, station=shop.station, stock_item=item, image_bytes=stations.part_photo("bracket")
    )
    services.inspection_record(shop.inspector, stock_item=item, verdict="rejected", reason="dropped")
    done = runner.run_inspection(request.pk)
    assert done.status == "error" and "not awaiting inspection" in done.error
    assert done.inspection is None
    assert Inspection.objects.count() == 1
    annotated = done.image.name.replace(".png", "-annotated.png")
    assert not default_storage.exists(annotated)  # nothing half-made left behind


def test_the_request_is_queued_on_the_vision_queue_after_commit(
    shop, calibrated, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.VISION_QUEUE = "vision-test"
    sent = []
    monkeypatch.setattr(celery_app, "send_task", lambda name, **kw: sent.append((name, kw)))
    item = stations.awaiting_item(shop)
    with django_capture_on_commit_callbacks(execute=True):
        request = services.inspection_request(
            shop.station_user,
            station=shop.station,
            stock_item=item,
            image_bytes=stations.part_photo("bracket"),
        )
    assert sent == [(tasks.run_inspection.name, {"args": [request.pk], "queue": "vision-test"})]


def test_an_inspector_overrides_a_station_rejection_with_a_reason(shop, calibrated):
    request, item = run(shop, stations.part_photo("bracket", "void", 0))
    new = services.inspection_override(
        shop.inspector, inspection=request.inspection, verdict="accepted", reason="void is a paint speck"
    )
    assert new.overrides == request.inspection and new.inspector == shop.inspector
    assert (
        new.calibration == calibrated and new.annotated_image.name == request.inspection.annotated_image.name
    )
    assert StockItem.objects.get(pk=item.pk).status == "reserved"
    assert new.history.first().history_change_reason == "override rejected -> accepted"


class _Receiver(BaseHTTPRequestHandler):
    bodies: list

    def do_POST(self):
        self.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_the_result_is_pushed_to_the_station_callback(shop, calibrated):
    _Receiver.bodies = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    shop.station.callback_url = f"http://127.0.0.1:{server.server_port}/inspected"
    shop.station.save()
    item = stations.awaiting_item(shop)
    request = services.inspection_request(
        shop.station_user, station=shop.station, stock_item=item, image_bytes=stations.part_photo("bracket")
    )
    assert tasks.run_inspection(request.pk) == "done"
    thread.join(timeout=10)
    server.server_close()
    [body] = _Receiver.bodies
    assert body["serial"] == item.serial and body["inspection"]["verdict"] == "accepted"
    assert InspectionRequest.objects.get(pk=request.pk).status == "done"


def test_a_failing_callback_does_not_fail_the_inspection(shop, calibrated):
    shop.station.callback_url = "http://127.0.0.1:9/unreachable"
    shop.station.save()
    request, _ = run(shop, stations.part_photo("bracket", "good", 0))
    assert callbacks.push_result(request, timeout=1) is False
    assert request.status == "done"
