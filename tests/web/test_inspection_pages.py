"""Inspectors' pages: the queue of undecided parts, each part's evidence, the four decisions, the photos."""

import cv2
import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse

from mes.core.roles import Role
from mes.inventory import services as inventory
from mes.inventory.models import Nonconformance, StockItem
from tests.factories import database_snapshot
from tests.vision import stations
from tests.web.test_tickets import block, client_for, text_of
from vision import services as vision

pytestmark = pytest.mark.django_db

MEASUREMENTS = [
    {"name": "length", "nominal": 80.0, "actual": 80.05, "deviation": 0.05, "tolerance": 0.2, "ok": True},
    {"name": "H2.diameter", "nominal": 6.5, "actual": 6.71, "deviation": 0.21, "tolerance": 0.1, "ok": False},
]
DEFECTS = [{"type": "void", "x": 41.5, "y": 12.25, "size_mm": 1.2, "score": 9.5}]


def png(value: int) -> bytes:
    return cv2.imencode(".png", np.full((8, 8), value, np.uint8))[1].tobytes()


@pytest.fixture
def calibration(shop):
    return stations.true_calibration(shop.station, shop.supervisor)


def inspect(shop, calibration, verdict: str, item=None):
    """A part made on the mill and inspected by the station with ``verdict``, photos stored."""
    item = item or stations.awaiting_item(shop)
    photo = default_storage.save(f"inspections/test/{item.serial}.png", ContentFile(png(40)))
    annotated = default_storage.save(f"inspections/test/{item.serial}-annotated.png", ContentFile(png(200)))
    return vision.inspection_record(
        shop.station_user,
        stock_item=item,
        verdict=verdict,
        reason="" if verdict == "accepted" else f"{verdict}: H2.diameter out of tolerance",
        measurements=MEASUREMENTS,
        defects=DEFECTS,
        pipeline_version="vision-pipeline/test-7",
        calibration=calibration,
        station=shop.station,
        image=photo,
        annotated_image=annotated,
    )


def decide(user, serial: str, action: str, reason: str):
    return client_for(user).post(
        reverse("inspection:decide", args=[serial]), {"action": action, "reason": reason}
    )


# --- roles ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("role", "allowed"),
    [(Role.INSPECTOR, True), (Role.SUPERVISOR, True), (Role.MACHINIST, False), (Role.ENGINEER, False)],
)
def test_inspection_pages_open_for_inspectors_and_supervisors_only(shop, calibration, role, allowed):
    serial = inspect(shop, calibration, "rejected").stock_item.serial
    client = client_for(shop.user(role))
    for url in (reverse("inspection:queue"), reverse("inspection:item", args=[serial])):
        assert client.get(url).status_code == (200 if allowed else 403), url
    if not allowed:
        before = database_snapshot()
        assert decide(shop.user(role), serial, "scrap", "because").status_code == 403
        assert database_snapshot() == before


# --- the queue --------------------------------------------------------------------------------------------
def test_the_queue_lists_only_undecided_rejected_and_unable_parts_newest_first(shop, calibration):
    rejected = inspect(shop, calibration, "rejected").stock_item
    accepted = inspect(shop, calibration, "accepted").stock_item
    scrapped = inspect(shop, calibration, "rejected").stock_item
    reworked = inspect(shop, calibration, "rejected").stock_item
    never = stations.awaiting_item(shop)
    unable = inspect(shop, calibration, "unable").stock_item
    for item, disposition in ((scrapped, "scrap"), (reworked, "rework")):
        ncr = Nonconformance.objects.get(stock_item=item)
        inventory.nonconformance_dispose(shop.inspector, ncr=ncr, disposition=disposition, note="seen")

    page = client_for(shop.inspector).get(reverse("inspection:queue")).content.decode()
    for item in (accepted, scrapped, reworked, never):
        assert f'data-testid="inspect-{item.serial}"' not in page, item.serial
    rows = [page.index(f'data-testid="inspect-{item.serial}"') for item in (unable, rejected)]
    assert rows == sorted(rows)  # newest first
    assert "Unable to inspect" in block(page, f"inspect-{unable.serial}")


def test_a_part_leaves_the_queue_once_decided(shop, calibration):
    serial = inspect(shop, calibration, "rejected").stock_item.serial
    client = client_for(shop.inspector)
    assert f"inspect-{serial}" in client.get(reverse("inspection:queue")).content.decode()
    assert decide(shop.inspector, serial, "scrap", "Void through the wall").status_code == 302
    assert f"inspect-{serial}" not in client.get(reverse("inspection:queue")).content.decode()


# --- the evidence -----------------------------------------------------------------------------------------
def test_the_part_page_shows_photos_measurements_defects_calibration_and_pipeline(shop, calibration):
    inspection = inspect(shop, calibration, "rejected")
    page = client_for(shop.inspector).get(reverse("inspection:item", args=[inspection.stock_item.serial]))
    html = page.content.decode()
    assert reverse("inspection:image", args=[inspection.pk, "annotated"]) in html
    assert reverse("inspection:image", args=[inspection.pk, "photo"]) in html
    assert 'class="pass" data-testid="measurement-length"' in html
    assert 'class="fail" data-testid="measurement-H2.diameter"' in html
    row = block(html, "measurement-H2.diameter")
    for value in ("6.500", "6.710", "0.210", "0.100", "FAIL"):
        assert value in row
    assert "void" in block(html, "defects") and "41.5" in block(html, "defects")
    assert "Station-1 v1" in block(html, "calibration")
    assert text_of(html, "pipeline-version") == "vision-pipeline/test-7"
    assert "H2.diameter out of tolerance" in html


def test_only_the_decisions_that_fit_the_part_are_offered(shop, calibration):
    rejected = inspect(shop, calibration, "rejected").stock_item.serial
    unable = inspect(shop, calibration, "unable").stock_item.serial
    client = client_for(shop.inspector)
    page = client.get(reverse("inspection:item", args=[rejected])).content.decode()
    assert 'name="reason"' in page and 'name="csrfmiddlewaretoken"' in page
    offered = {name for name in ("accept", "reject", "rework", "scrap") if f'data-testid="{name}"' in page}
    assert offered == {"accept", "rework", "scrap"}
    page = client.get(reverse("inspection:item", args=[unable])).content.decode()
    offered = {name for name in ("accept", "reject", "rework", "scrap") if f'data-testid="{name}"' in page}
    assert offered == {"accept", "reject"}


# --- the decisions ----------------------------------------------------------------------------------------
DECISIONS = [
    # (verdict of the latest inspection, action, part status after, disposition of the NCR after)
    ("rejected", "accept", "reserved", "use_as_is"),
    ("unable", "accept", "reserved", None),
    ("unable", "reject", "rejected", "pending"),
    ("rejected", "rework", "awaiting_inspection", "rework"),
    ("rejected", "scrap", "scrapped", "scrap"),
]


@pytest.mark.parametrize(("verdict", "action", "status", "disposition"), DECISIONS)
def test_each_decision_with_a_reason(shop, calibration, verdict, action, status, disposition):
    item = inspect(shop, calibration, verdict).stock_item
    response = decide(shop.inspector, item.serial, action, "Checked under the microscope")
    assert response.status_code == 302 and response["Location"] == reverse("inspection:queue")
    item.refresh_from_db()
    assert item.status == status
    ncr = Nonconformance.objects.filter(stock_item=item).first()
    assert (ncr.disposition if ncr else None) == disposition
    latest = item.history.first()
    assert latest.history_user == shop.inspector


@pytest.mark.parametrize(("verdict", "action", "status", "disposition"), DECISIONS)
def test_each_decision_without_a_reason_is_refused_and_changes_nothing(
    shop, calibration, verdict, action, status, disposition
):
    item = inspect(shop, calibration, verdict).stock_item
    before = database_snapshot()
    response = decide(shop.inspector, item.serial, action, "  ")
    assert response.status_code == 422
    assert "Give the reason for your decision." in block(response.content.decode(), "reason-error")
    assert database_snapshot() == before


def test_a_decision_that_does_not_fit_is_refused_in_plain_words(shop, calibration):
    rejected = inspect(shop, calibration, "rejected").stock_item
    accepted = inspect(shop, calibration, "accepted").stock_item
    before = database_snapshot()
    response = decide(shop.inspector, rejected.serial, "reject", "again")
    assert response.status_code == 422
    assert "cannot be rejected now; it can be accepted or reworked or scrapped" in response.content.decode()
    response = decide(shop.inspector, accepted.serial, "scrap", "no")
    assert response.status_code == 422
    assert "is not waiting for an inspector" in block(response.content.decode(), "decision-error")
    assert database_snapshot() == before


def test_decisions_need_a_csrf_token(shop, calibration):
    item = inspect(shop, calibration, "rejected").stock_item
    client = Client(enforce_csrf_checks=True)
    client.force_login(shop.inspector)
    response = client.post(
        reverse("inspection:decide", args=[item.serial]), {"action": "scrap", "reason": "x"}
    )
    assert response.status_code == 403
    assert StockItem.objects.get(pk=item.pk).status == "rejected"


# --- the photos -------------------------------------------------------------------------------------------
def test_photos_are_streamed_to_people_only(shop, calibration):
    inspection = inspect(shop, calibration, "rejected")
    url = reverse("inspection:image", args=[inspection.pk, "annotated"])
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and reverse("login") in anonymous["Location"]
    assert client_for(shop.station_user).get(url).status_code == 403
    for user in (shop.inspector, shop.machinist):  # the genealogy shows photos to every person
        response = client_for(user).get(url)
        assert response.status_code == 200 and response["Content-Type"] == "image/png"
        assert b"".join(response.streaming_content) == png(200)
    photo = client_for(shop.inspector).get(reverse("inspection:image", args=[inspection.pk, "photo"]))
    assert b"".join(photo.streaming_content) == png(40)
    assert (
        client_for(shop.inspector).get(reverse("inspection:image", args=[inspection.pk, "x"])).status_code
        == 404
    )
    assert (
        client_for(shop.inspector).get(reverse("inspection:image", args=[9999, "photo"])).status_code == 404
    )
