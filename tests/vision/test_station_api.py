"""The station API: a station token does its own station's work and nothing else; uploads are checked."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from mes.core.roles import Role
from tests.factories import database_snapshot, make_user
from tests.vision import stations
from vision import runner, services
from vision.models import Calibration, InspectionRequest, Station

pytestmark = pytest.mark.django_db

API = "/api/v1/vision"


def client_for(user, *, token: bool = False) -> APIClient:
    client = APIClient()
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    else:
        client.force_authenticate(user)
    return client


def photo(data: bytes, name: str = "part.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/png")


@pytest.fixture
def station_api(shop):
    return client_for(shop.station_user, token=True)


@pytest.fixture
def ready(shop):
    stations.configure(shop.station)
    stations.true_calibration(shop.station, shop.supervisor)
    return stations.awaiting_item(shop)


@pytest.fixture
def other_station(shop):
    other = Station.objects.create(name="Station-2", user=make_user("station-2", Role.STATION))
    stations.true_calibration(stations.configure(other), shop.supervisor)
    return other


def post_photo(client, station_name: str, serial: str, data: bytes):
    return client.post(
        f"{API}/stations/{station_name}/inspections/",
        {"serial": serial, "image": photo(data)},
        format="multipart",
    )


def test_station_posts_a_photo_and_fetches_the_verdict(shop, station_api, ready):
    response = post_photo(station_api, "Station-1", ready.serial, stations.part_photo("bracket"))
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "queued" and body["serial"] == ready.serial
    assert response["Location"] == body["url"]
    runner.run_inspection(body["id"])  # what the vision worker does
    result = station_api.get(body["url"]).json()
    assert result["status"] == "done"
    inspection = result["inspection"]
    assert inspection["verdict"] == "accepted" and inspection["calibration_version"] == 1
    assert inspection["station"] == "Station-1" and inspection["timings"]["total"] > 0
    annotated = station_api.get(inspection["annotated_url"])
    assert annotated.status_code == 200 and annotated["Content-Type"] == "image/png"
    assert b"".join(annotated.streaming_content).startswith(b"\x89PNG")
    listed = station_api.get(f"{API}/stations/Station-1/inspections/").json()
    assert [r["id"] for r in listed["results"]] == [body["id"]]


def test_station_sees_only_itself(shop, station_api, other_station):
    names = [s["name"] for s in station_api.get(f"{API}/stations/").json()["results"]]
    assert names == ["Station-1"]
    assert station_api.get(f"{API}/stations/Station-2/").status_code == 404
    assert station_api.get(f"{API}/stations/Station-2/calibrations/").json()["results"] == []
    people = client_for(shop.inspector).get(f"{API}/stations/").json()["results"]
    assert [s["name"] for s in people] == ["Station-1", "Station-2"]


def test_station_cannot_post_for_another_station(shop, station_api, ready, other_station):
    before = database_snapshot()
    response = post_photo(station_api, "Station-2", ready.serial, stations.part_photo("bracket"))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "other_station"
    response = station_api.post(
        f"{API}/stations/Station-2/calibrations/",
        {"images": [photo(v) for v in stations.board_views()]},
        format="multipart",
    )
    assert response.status_code == 403
    assert database_snapshot() == before


def test_station_cannot_read_another_stations_results(shop, ready, other_station):
    request = services.inspection_request(
        shop.station_user, station=shop.station, stock_item=ready, image_bytes=stations.part_photo("bracket")
    )
    runner.run_inspection(request.pk)
    request.refresh_from_db()
    other = client_for(other_station.user, token=True)
    assert other.get(f"{API}/requests/{request.pk}/").status_code == 404
    assert other.get(f"{API}/inspections/{request.inspection_id}/").status_code == 404
    assert other.get(f"{API}/inspections/{request.inspection_id}/original.png").status_code == 404
    assert other.get(f"{API}/stations/Station-1/inspections/").json()["results"] == []


def test_station_token_opens_nothing_else(shop, station_api, ready):
    for url in ("/api/v1/tickets/", "/api/v1/stock/", "/api/v1/part-requests/", "/api/v1/jobs/"):
        assert station_api.get(url).status_code == 403, url


def test_station_cannot_override_or_configure(shop, station_api, ready):
    request = services.inspection_request(
        shop.station_user,
        station=shop.station,
        stock_item=ready,
        image_bytes=stations.part_photo("bracket", "void", 0),
    )
    inspection = runner.run_inspection(request.pk).inspection
    before = database_snapshot()
    response = station_api.post(
        f"{API}/inspections/{inspection.pk}/override/",
        {"verdict": "accepted", "reason": "fine"},
        format="json",
    )
    assert response.status_code == 403
    response = station_api.patch(
        f"{API}/stations/Station-1/", {"callback_url": "http://station-1.shop/cb"}, format="json"
    )
    assert response.status_code == 403
    assert database_snapshot() == before


def test_inspector_overrides_through_the_api(shop, ready):
    request = services.inspection_request(
        shop.station_user,
        station=shop.station,
        stock_item=ready,
        image_bytes=stations.part_photo("bracket", "void", 0),
    )
    inspection = runner.run_inspection(request.pk).inspection
    assert inspection.verdict == "rejected"
    api = client_for(shop.inspector)
    no_reason = api.post(
        f"{API}/inspections/{inspection.pk}/override/", {"verdict": "accepted"}, format="json"
    )
    assert no_reason.status_code == 400 and no_reason.json()["error"]["field"] == "reason"
    response = api.post(
        f"{API}/inspections/{inspection.pk}/override/",
        {"verdict": "accepted", "reason": "speck of dust, cleaned"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["overrides"] == inspection.pk and response.json()["inspector"] == "ines"


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (b"GIF89a" + b"\0" * 64, "not a PNG or JPEG"),
        (stations.part_photo.__wrapped__("bracket")[:5000], "truncated"),
    ],
    ids=["non-image", "truncated"],
)
def test_bad_uploads_are_refused_and_store_nothing(shop, station_api, ready, upload, message):
    before = database_snapshot()
    response = post_photo(station_api, "Station-1", ready.serial, upload)
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]
    assert response.json()["error"]["field"] == "image"
    assert database_snapshot() == before


def test_oversized_and_missing_uploads_are_refused(shop, station_api, ready, settings):
    settings.VISION_MAX_UPLOAD_BYTES = 1000
    before = database_snapshot()
    response = post_photo(station_api, "Station-1", ready.serial, stations.part_photo("bracket"))
    assert response.status_code == 400 and "limit of 1000" in response.json()["error"]["message"]
    response = station_api.post(f"{API}/stations/Station-1/inspections/", {"serial": ready.serial})
    assert response.status_code == 400 and response.json()["error"]["field"] == "image"
    response = post_photo(station_api, "Station-1", "NO-SUCH-SERIAL", b"x")
    assert response.status_code == 400 and response.json()["error"]["field"] == "serial"
    assert database_snapshot() == before
    assert not InspectionRequest.objects.exists()


def test_calibration_upload_stores_a_version_or_refuses_with_the_rms(shop, station_api, settings):
    stations.configure(shop.station)
    url = f"{API}/stations/Station-1/calibrations/"
    views = stations.board_views()
    settings.VISION_CALIBRATION_MAX_RMS_PX = 0.001
    refused = station_api.post(url, {"images": [photo(v) for v in views]}, format="multipart")
    assert refused.status_code == 400
    assert "RMS reprojection error" in refused.json()["error"]["message"]
    assert not Calibration.objects.exists()
    settings.VISION_CALIBRATION_MAX_RMS_PX = 0.5
    response = station_api.post(url, {"images": [photo(v) for v in views]}, format="multipart")
    assert response.status_code == 201, response.json()
    assert response.json()["version"] == 1 and response.json()["stale"] is None
    assert station_api.get(url).json()["results"][0]["version"] == 1
    bad = station_api.post(url, {"images": [photo(b"nope")]}, format="multipart")
    assert bad.status_code == 400 and Calibration.objects.count() == 1


def test_supervisor_configures_the_station(shop):
    api = client_for(shop.supervisor)
    board = {"squares_x": 9, "squares_y": 7, "square_mm": 8.0, "marker_mm": 6.0, "dictionary": "DICT_4X4_50"}
    response = api.patch(f"{API}/stations/Station-1/", {"board": board}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["board"]["squares_x"] == 9
    assert (
        client_for(shop.engineer)
        .patch(f"{API}/stations/Station-1/", {"board": board}, format="json")
        .status_code
        == 403
    )


@pytest.mark.parametrize(
    "change, says",
    [
        ({"squares_x": 100_000, "squares_y": 100_000}, "3 to 64 squares"),  # once OOM-killed the server
        ({"squares_x": 9.5}, "whole numbers"),
        ({"squares_x": "9"}, "whole numbers"),
        ({"square_mm": 1e308, "marker_mm": 15}, "square_mm <= 500"),
        ({"squares_x": 20, "squares_y": 20}, "need 200 markers"),
        ({"dictionary": "__class__"}, "unknown ArUco dictionary"),
    ],
)
def test_a_board_no_station_can_hold_is_refused_before_any_work(shop, change, says):
    api = client_for(shop.supervisor)
    board = {"squares_x": 9, "squares_y": 7, "square_mm": 8.0, "marker_mm": 6.0, "dictionary": "DICT_4X4_50"}
    response = api.patch(f"{API}/stations/Station-1/", {"board": {**board, **change}}, format="json")
    assert response.status_code == 400
    assert says in json.dumps(response.json())


def test_schema_lists_the_station_endpoints(shop):
    response = client_for(shop.engineer).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    paths = response.json()["paths"]
    assert "/api/v1/vision/stations/{name}/inspections/" in paths
    assert "/api/v1/vision/inspections/{id}/override/" in paths
