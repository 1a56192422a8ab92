"""manage.py calibrate / inspect / simulate_camera, and the station client over real HTTP."""

import io
import json

import cv2
import numpy as np
import pytest
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

from tests.factories import database_snapshot, make_shop
from tests.vision import stations
from vision import runner
from vision.models import Calibration, InspectionRequest
from vision.station_client import ClientError, grab_frame
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
def test_calibrate_can_also_write_the_stored_calibration_to_a_file(shop, board_files, tmp_path):
    stations.configure(shop.station)
    out_file = tmp_path / "calib.json"
    run("calibrate", "--station", "Station-1", *map(str, board_files), "--out", str(out_file))
    stored = Calibration.objects.get()
    document = json.loads(out_file.read_text())
    assert document["camera"]["K"] == stored.camera["K"] and document["plane"]["t"] == stored.plane["t"]


def board_options(board=stations.BOARD) -> list[str]:
    return [
        f"--board={board.squares_x}x{board.squares_y}",
        f"--square-mm={board.square_mm}",
        f"--marker-mm={board.marker_mm}",
        f"--dictionary={board.dictionary}",
    ]


def test_calibrate_to_a_file_and_inspect_with_it_need_no_database(board_files, tmp_path):
    """The documented no-database path, end to end: board photos -> calib.json -> a verdict."""
    calib = tmp_path / "calib.json"
    out = run("calibrate", *map(str, board_files), *board_options(), "--out", str(calib))
    assert "RMS 0.0" in out
    spec = write(tmp_path, "spec.json", json.dumps(stations.SPECS["bracket"]).encode())
    verdicts = {}
    for kind in ("good", "void"):
        photo = write(tmp_path, f"{kind}.png", stations.part_photo("bracket", kind, 0))
        args = ("inspect", "--calibration", str(calib), "--spec", str(spec), str(photo), "--json")
        verdicts[kind] = json.loads(run(*args))["verdict"]
    assert verdicts == {"good": "PASS", "void": "FAIL"}


@pytest.mark.parametrize(
    "args, says",
    [
        ([], "name a --station"),
        (["--out", "x.json"], "describe the board"),
        (["--out", "x.json", "--board=99999x2", "--square-mm=8", "--marker-mm=6"], "describe the board"),
        (["--out", "x.json", "--board=90x90", "--square-mm=8", "--marker-mm=6"], "3 to 64 squares"),
        (["--out", "x.json", *board_options(), "--stage-index=9"], "out of range"),
    ],
)
def test_calibrate_to_a_file_refuses_what_it_cannot_use(board_files, tmp_path, monkeypatch, args, says):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CommandError, match=says):
        run("calibrate", *map(str, board_files), *args)
    assert not (tmp_path / "x.json").exists()


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


def true_calibration_document() -> dict:
    """The simulated camera itself as a calibration file's document."""
    cam = stations.camera()
    return {
        "camera": {
            "K": cam.K.tolist(),
            "dist": cam.dist.tolist(),
            "rms_px": 0,
            "image_size": cam.size,
            "n_views": 0,
        },
        "plane": {"R": cam.R.tolist(), "t": cam.t.tolist()},
    }


def test_inspect_from_files_needs_no_database(tmp_path):
    calib = write(tmp_path, "calib.json", json.dumps(true_calibration_document()).encode())
    spec = write(tmp_path, "spec.json", json.dumps(stations.SPECS["bracket"]).encode())
    photo = write(tmp_path, "part.png", stations.part_photo("bracket", "void", 0))
    out = run("inspect", "--calibration", str(calib), "--spec", str(spec), str(photo), "--json")
    assert json.loads(out)["verdict"] == "FAIL"
    junk = write(tmp_path, "junk.png", b"not an image")
    with pytest.raises(CommandError, match="not a PNG or JPEG"):
        run("inspect", "--calibration", str(calib), "--spec", str(spec), str(junk))


@pytest.fixture
def one_shot(tmp_path, monkeypatch):
    """``manage.py inspect`` of a good bracket from files, as a fresh process would run it: returns a
    function(*extra args) -> its JSON output, each call starting with an empty in-memory map cache."""
    from vision.pipeline import inspect as pipeline_inspect

    calib = write(tmp_path, "calib.json", json.dumps(true_calibration_document()).encode())
    spec = write(tmp_path, "spec.json", json.dumps(stations.SPECS["bracket"]).encode())
    photo = write(tmp_path, "part.png", stations.part_photo("bracket", "good", 0))
    args = ("inspect", "--calibration", str(calib), "--spec", str(spec), str(photo), "--json")

    def inspect(*extra):
        monkeypatch.setattr(pipeline_inspect, "_MAP_CACHE", type(pipeline_inspect._MAP_CACHE)())
        return json.loads(run(*args, *extra))

    return inspect


def test_a_one_shot_inspect_keeps_its_maps_for_the_next_process(one_shot, tmp_path, monkeypatch):
    from vision.pipeline import inspect as pipeline_inspect

    cache = tmp_path / "maps"
    first = one_shot("--maps-cache", str(cache))
    assert len(list(cache.glob("*.npz"))) == 2  # the coarse and the fine maps

    def never(*args, **kwargs):
        raise AssertionError("the maps were built again")

    monkeypatch.setattr(pipeline_inspect, "build_rectify_maps", never)
    second = one_shot("--maps-cache", str(cache))
    assert second["verdict"] == first["verdict"] == "PASS"
    assert second["measurements"] == first["measurements"]


def test_a_damaged_maps_file_is_rebuilt_and_a_silly_scale_refused(one_shot, tmp_path):
    cache = tmp_path / "maps"
    one_shot("--maps-cache", str(cache))
    for path in cache.glob("*.npz"):
        path.write_bytes(b"half a file")
    assert one_shot("--maps-cache", str(cache))["verdict"] == "PASS"
    with pytest.raises(CommandError, match="--mm-per-px must lie in"):
        one_shot("--mm-per-px", "0.000001")


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
    frame = write(tmp_path, "frame.png", stations.part_photo("bracket", "good", 0))
    assert grab_frame(str(frame)).startswith(b"\x89PNG")
    with pytest.raises(ClientError, match="gave no frame"):
        grab_frame(str(tmp_path / "missing.png"))


def record_video(path, photo_png: bytes, frames: int = 3):
    """A lossless (FFV1) recording of a camera that keeps seeing ``photo_png``."""
    image = cv2.imdecode(np.frombuffer(photo_png, np.uint8), cv2.IMREAD_COLOR)
    height, width = image.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), 5, (width, height), isColor=True)
    assert writer.isOpened(), "this OpenCV build cannot write FFV1"
    for _ in range(frames):
        writer.write(image)
    writer.release()
    return path


@pytest.mark.django_db(transaction=True)
def test_the_station_client_inspects_a_part_from_a_recorded_video_as_its_camera(live_server, tmp_path):
    """``--camera`` opens its source with cv2.VideoCapture, which reads a recorded video as it would a
    camera: the frame it grabs reaches the MES and is judged like any photo."""
    shop = make_shop()
    stations.configure(shop.station)
    stations.true_calibration(shop.station, shop.supervisor)
    item = stations.awaiting_item(shop)
    video = record_video(tmp_path / "station.avi", stations.part_photo("bracket", "good", 3))
    token = Token.objects.get_or_create(user=shop.station_user)[0].key
    stdout = io.StringIO()
    args = ["--url", live_server.url, "--token", token, "--camera", str(video), "--serial", item.serial]
    code = client_main([*args, "--no-wait"], stdout=stdout)
    assert code == 0 and json.loads(stdout.getvalue())["status"] == "queued"
    request = InspectionRequest.objects.get(stock_item=item)
    assert runner.run_inspection(request.pk).inspection.verdict == "accepted"
    with pytest.raises(ClientError, match="gave no frame"):
        grab_frame(str(tmp_path / "no-such-camera.avi"))
