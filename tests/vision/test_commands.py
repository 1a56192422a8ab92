"""manage.py calibrate / inspect / simulate_camera, and the station client over real HTTP."""

import io
import json

import cv2
import pytest
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

from tests.factories import database_snapshot, make_shop
from tests.vision import stations
from vision import runner
from vision.models import Calibration, InspectionRequest
from vision.station_client import main as client_main


def write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.fixture
def board_files(tmp_path):
    return [write(tmp_path, f"view{i}.png", v) for i, v in enumerate(stations.board_views())]


@pytest.fixture
def calibrated(shop):
    stations.configure(shop.station)
    return stations.true_calibration(shop.station, shop.supervisor)


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_calibrate_stores_a_new_version(shop, board_files):
    stations.configure(shop.station)
    out = run("calibrate", "--station", "Station-1", *map(str, board_files))
    assert "Station-1 calibration v1: RMS 0.0" in out
    calibration = Calibration.objects.get()
    assert calibration.created_by == shop.station_user and calibration.n_views == 7


@pytest.mark.django_db
def test_calibrate_refuses_a_bad_calibration_naming_its_rms(shop, board_files, settings):
    stations.configure(shop.station)
    settings.VISION_CALIBRATION_MAX_RMS_PX = 0.001
    with pytest.raises(CommandError, match=r"RMS reprojection error 0\.\d+ px exceeds"):
        run("calibrate", "--station", "Station-1", *map(str, board_files))
    with pytest.raises(CommandError, match="no station"):
        run("calibrate", "--station", "Nope", *map(str, board_files))
    assert not Calibration.objects.exists()


@pytest.mark.django_db
def test_inspect_with_a_station_and_revision_records_nothing(shop, calibrated, tmp_path):
    photo = write(tmp_path, "part.png", stations.part_photo("bracket", "good", 0))
    annotated = tmp_path / "annotated.png"
    before = database_snapshot()
    out = run(
        "inspect",
        "--station",
        "Station-1",
        "--revision",
        "BRK-080@A",
        str(photo),
        "--json",
        "--annotate",
        str(annotated),
    )
    assert json.loads(out)["verdict"] == "PASS"
    assert cv2.imread(str(annotated)) is not None
    assert database_snapshot() == before
    assert run("inspect", "--station", "Station-1", "--revision", "BRK-080@A", str(photo)).startswith("PASS")


@pytest.mark.django_db
def test_inspect_with_a_stale_calibration_is_unable(shop, calibrated, tmp_path, settings):
    settings.VISION_CALIBRATION_MAX_AGE_DAYS = 0
    photo = write(tmp_path, "part.png", stations.part_photo("bracket", "good", 0))
    out = run("inspect", "--station", "Station-1", "--revision", "BRK-080@A", str(photo), "--json")
    assert json.loads(out)["verdict"] == "UNABLE" and "recalibrate" in out


def test_inspect_from_files_needs_no_database(tmp_path):
    cam = stations.camera()
    calibration = {
        "camera": {
            "K": cam.K.tolist(),
            "dist": cam.dist.tolist(),
            "rms_px": 0,
            "image_size": cam.size,
            "n_views": 0,
        },
        "plane": {"R": cam.R.tolist(), "t": cam.t.tolist()},
    }
    calib = write(tmp_path, "calib.json", json.dumps(calibration).encode())
    spec = write(tmp_path, "spec.json", json.dumps(stations.SPECS["bracket"]).encode())
    photo = write(tmp_path, "part.png", stations.part_photo("bracket", "void", 0))
    out = run("inspect", "--calibration", str(calib), "--spec", str(spec), str(photo), "--json")
    assert json.loads(out)["verdict"] == "FAIL"
    junk = write(tmp_path, "junk.png", b"not an image")
    with pytest.raises(CommandError, match="not a PNG or JPEG"):
        run("inspect", "--calibration", str(calib), "--spec", str(spec), str(junk))


@pytest.mark.django_db
def test_simulate_camera_photographs_each_waiting_part_through_the_service(shop, calibrated):
    items = [stations.awaiting_item(shop) for _ in range(2)]
    out = run("simulate_camera", "--station", "Station-1", "--once", "--defect-rate", "0", "--seed", "1")
    assert out.count("photo posted") == 2
    requests = InspectionRequest.objects.order_by("pk")
    assert [r.stock_item_id for r in requests] == [i.pk for i in items]
    for request in requests:
        assert runner.run_inspection(request.pk).inspection.verdict == "accepted"
    assert run("simulate_camera", "--station", "Station-1", "--once") == ""  # nothing left to photograph


@pytest.mark.django_db(transaction=True)
def test_simulate_camera_and_station_client_post_over_http(live_server):
    shop = make_shop()
    stations.configure(shop.station)
    stations.true_calibration(shop.station, shop.supervisor)
    first, second = stations.awaiting_item(shop), stations.awaiting_item(shop)
    out = run("simulate_camera", "--station", "Station-1", "--once", "--url", live_server.url, "--seed", "2")
    assert "photo posted" in out
    posted = InspectionRequest.objects.order_by("pk")
    assert [(r.stock_item_id, r.requested_by_id) for r in posted] == [
        (first.pk, shop.station_user.pk),
        (second.pk, shop.station_user.pk),
    ]
    # The station client: a serial per line on stdin, a frame per serial; an unknown serial is refused.
    for request in InspectionRequest.objects.all():
        runner.run_inspection(request.pk)
    token = Token.objects.get_or_create(user=shop.station_user)[0].key
    stdout = io.StringIO()
    photo = stations.part_photo("bracket", "good", 3)
    third = stations.awaiting_item(shop)
    code = client_main(
        ["--url", live_server.url, "--token", token, "--watch", "--no-wait"],
        stdin=io.StringIO(f"{third.serial}\n\nNO-SUCH\n"),
        stdout=stdout,
        grab=lambda: photo,
    )
    lines = [json.loads(line) for line in stdout.getvalue().splitlines()]
    assert [(x["serial"], x["status"]) for x in lines] == [(third.serial, "queued"), ("NO-SUCH", "refused")]
    assert "serial" in lines[1]["reason"]
    assert code == 1


def test_station_client_grabs_frames_from_a_video_source(tmp_path):
    from vision.station_client import ClientError, grab_frame

    frame = write(tmp_path, "frame.png", stations.part_photo("bracket", "good", 0))
    assert grab_frame(str(frame)).startswith(b"\x89PNG")
    with pytest.raises(ClientError, match="gave no frame"):
        grab_frame(str(tmp_path / "missing.png"))
