"""Bad photos and unready stations are refused before anything is stored: no row, no file, no task."""

import os
import struct
import zlib

import cv2
import numpy as np
import pytest
from django.conf import settings as django_settings

from mes.core.errors import NotPermitted, RuleViolation
from mes.core.roles import Role
from tests.factories import database_snapshot, make_user
from tests.vision import stations
from vision import services
from vision.models import Station

pytestmark = pytest.mark.django_db


def png_bomb(width: int, height: int) -> bytes:
    """A valid, tiny PNG whose header claims ``width`` x ``height`` pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 99))
        + chunk(b"IEND", b"")
    )


def stored_files() -> list[str]:
    return [os.path.join(d, f) for d, _, files in os.walk(django_settings.MEDIA_ROOT) for f in files]


@pytest.fixture
def ready(shop):
    stations.configure(shop.station)
    stations.true_calibration(shop.station, shop.supervisor)
    return stations.awaiting_item(shop)


def refused(shop, item, photo, *, match: str, code: str | None = None, actor=None, station=None):
    before = database_snapshot()
    with pytest.raises((RuleViolation, NotPermitted), match=match) as exc:
        services.inspection_request(
            actor or shop.station_user, station=station or shop.station, stock_item=item, image_bytes=photo
        )
    assert database_snapshot() == before
    assert stored_files() == []
    if code:
        assert exc.value.code == code
    return exc.value


def test_a_good_photo_is_accepted_for_comparison(shop, ready):
    services.inspection_request(
        shop.station_user, station=shop.station, stock_item=ready, image_bytes=stations.part_photo("bracket")
    )
    assert len(stored_files()) == 1


def test_a_non_image_is_refused(shop, ready):
    refused(shop, ready, b"%PDF-1.7 not a photo", match="not a PNG or JPEG", code="bad_image")
    refused(shop, ready, b"", match="empty", code="bad_image")


def test_a_truncated_photo_is_refused(shop, ready):
    photo = stations.part_photo("bracket")
    refused(shop, ready, photo[: len(photo) // 2], match="truncated", code="bad_image")


def test_a_decompression_bomb_is_refused_from_its_header(shop, ready):
    bomb = png_bomb(60_000, 60_000)
    assert len(bomb) < 200
    refused(shop, ready, bomb, match="60000x60000", code="bad_image")


def test_a_photo_beyond_the_byte_limit_is_refused(shop, ready, settings):
    settings.VISION_MAX_UPLOAD_BYTES = 10_000
    refused(shop, ready, stations.part_photo("bracket"), match="limit of 10000", code="image_too_large")


def test_a_photo_of_another_size_than_the_calibration_is_refused(shop, ready):
    refused(shop, ready, _small_png(), match="64x48", code="image_size_mismatch")


def _small_png() -> bytes:
    return cv2.imencode(".png", np.zeros((48, 64), np.uint8))[1].tobytes()


def test_a_station_without_calibration_is_refused(shop):
    item = stations.awaiting_item(shop)
    refused(shop, item, stations.part_photo("bracket"), match="no calibration", code="no_calibration")


def test_a_part_not_awaiting_inspection_is_refused(shop, ready):
    services.inspection_record(shop.inspector, stock_item=ready, verdict="accepted")
    refused(shop, ready, stations.part_photo("bracket"), match="not awaiting", code="not_awaiting_inspection")


def test_a_part_already_being_inspected_is_refused(shop, ready):
    services.inspection_request(
        shop.station_user, station=shop.station, stock_item=ready, image_bytes=stations.part_photo("bracket")
    )
    before = database_snapshot()
    with pytest.raises(RuleViolation, match="already being inspected"):
        services.inspection_request(
            shop.station_user,
            station=shop.station,
            stock_item=ready,
            image_bytes=stations.part_photo("bracket"),
        )
    assert database_snapshot() == before and len(stored_files()) == 1


def test_a_station_cannot_post_for_another_station(shop, ready):
    other = Station.objects.create(name="Station-2", user=make_user("station-2", Role.STATION))
    stations.true_calibration(other, shop.supervisor)
    refused(
        shop,
        ready,
        stations.part_photo("bracket"),
        match="only act for itself",
        code="other_station",
        station=other,
    )
