"""Station calibration through the service: versioned, refused when bad (with its RMS), stale."""

from dataclasses import asdict
from datetime import timedelta

import numpy as np
import pytest

from mes.core.errors import NotPermitted, RuleViolation
from mes.core.roles import Role
from tests.factories import database_snapshot, make_user
from tests.vision import stations
from vision import selectors, services
from vision.models import Calibration, Station

pytestmark = pytest.mark.django_db


@pytest.fixture
def station(shop):
    return stations.configure(shop.station)


def test_station_calibrates_itself_and_versions_count_up(shop, station):
    first = services.station_calibrate(
        shop.station_user, station=station, images=list(stations.board_views())
    )
    assert (first.version, first.n_views) == (1, 7)
    assert first.rms_px < 0.1 and first.plane_rms_px < 0.1
    assert (first.image_width, first.image_height) == stations.camera().size
    camera, plane = selectors.pipeline_calibration(first)
    truth = stations.camera()
    assert camera.K[0, 0] == pytest.approx(truth.K[0, 0], rel=5e-3)
    assert np.linalg.norm(plane.t - truth.t) < 1.0  # mm, camera 320 mm above the stage
    assert first.board == asdict(stations.BOARD)
    second = services.station_calibrate(shop.supervisor, station=station, images=list(stations.board_views()))
    assert second.version == 2
    assert selectors.current_calibration(station) == second
    assert second.history.first().history_user == shop.supervisor


def test_a_calibration_above_the_rms_limit_is_refused_with_its_rms(shop, station, settings):
    settings.VISION_CALIBRATION_MAX_RMS_PX = 0.001
    before = database_snapshot()
    with pytest.raises(RuleViolation, match=r"RMS reprojection error 0\.0\d+ px exceeds 0\.001") as exc:
        services.station_calibrate(shop.supervisor, station=station, images=list(stations.board_views()))
    assert exc.value.code == "calibration_refused"
    assert database_snapshot() == before


def test_too_few_board_views_are_refused(shop, station):
    before = database_snapshot()
    with pytest.raises(RuleViolation, match="views"):
        services.station_calibrate(shop.supervisor, station=station, images=list(stations.board_views()[:2]))
    assert database_snapshot() == before


@pytest.mark.parametrize("bad", [b"not an image", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40])
def test_unreadable_calibration_images_are_refused(shop, station, bad):
    before = database_snapshot()
    with pytest.raises(RuleViolation, match="calibration image 3") as exc:
        services.station_calibrate(
            shop.supervisor, station=station, images=[*stations.board_views()[:2], bad]
        )
    assert exc.value.code == "bad_image"
    assert database_snapshot() == before


def test_a_station_without_a_board_cannot_calibrate(shop):
    with pytest.raises(RuleViolation, match="no ChArUco board"):
        services.station_calibrate(shop.supervisor, station=shop.station, images=list(stations.board_views()))
    assert not Calibration.objects.exists()


def test_a_station_cannot_calibrate_another_station(shop, station):
    other = stations.configure(
        Station.objects.create(name="Station-2", user=make_user("station-2", Role.STATION))
    )
    before = database_snapshot()
    with pytest.raises(NotPermitted, match="only act for itself"):
        services.station_calibrate(shop.station_user, station=other, images=list(stations.board_views()))
    assert database_snapshot() == before


def test_board_configuration_is_checked(shop):
    with pytest.raises(RuleViolation, match="marker_mm smaller than square_mm"):
        services.station_configure(
            shop.supervisor, station=shop.station, board={**asdict(stations.BOARD), "marker_mm": 9.0}
        )
    with pytest.raises(RuleViolation, match="Not a usable board"):
        services.station_configure(shop.supervisor, station=shop.station, board={"squares": 3})
    station = services.station_configure(
        shop.supervisor, station=shop.station, board=asdict(stations.BOARD), callback_url="http://st1/cb"
    )
    assert selectors.board_of(station) == stations.BOARD and station.callback_url == "http://st1/cb"


def test_a_calibration_older_than_the_max_age_is_stale(shop, settings):
    calibration = stations.true_calibration(shop.station, shop.supervisor)
    settings.VISION_CALIBRATION_MAX_AGE_DAYS = 30
    assert selectors.calibration_staleness(calibration) is None
    later = calibration.created_at + timedelta(days=31)
    assert "31 days old" in selectors.calibration_staleness(calibration, now=later)
    settings.VISION_CALIBRATION_MAX_AGE_DAYS = 60
    assert selectors.calibration_staleness(calibration, now=later) is None
