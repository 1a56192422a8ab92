"""The REST API: same services and roles as the web, errors as JSON, token auth for stations."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from mes.production import services as production
from mes.repairs.models import DamageTicket
from tests.factories import database_snapshot

pytestmark = pytest.mark.django_db


def client_for(user, *, token: bool = False) -> APIClient:
    client = APIClient()
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    else:
        client.force_authenticate(user)
    return client


def file_ticket(client, **overrides):
    body = {"sector": "Residential A", "module": "A3", "severity": "life_safety", "description": "breach"}
    return client.post("/api/v1/tickets/", {**body, **overrides}, format="json")


def test_engineer_files_a_ticket_and_requests_parts(shop):
    api = client_for(shop.engineer, token=True)
    response = file_ticket(api)
    assert response.status_code == 201, response.json()
    ticket_id = response.json()["id"]
    response = api.post(
        "/api/v1/part-requests/",
        {"ticket": ticket_id, "revision": shop.revision.pk, "quantity": 2},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "open" and response.json()["units_held"] == 0
    jobs = api.get("/api/v1/jobs/", {"state": "queued"}).json()
    assert jobs["count"] == 2  # paginated, filtered


def test_validation_errors_name_the_field(shop):
    response = file_ticket(client_for(shop.engineer), module="Z9")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["field"] == "module" and "No module Z9" in error["message"]


def test_domain_errors_are_json_with_a_clear_message_and_change_nothing(shop):
    ticket_id = file_ticket(client_for(shop.engineer)).json()["id"]
    before = database_snapshot()
    response = client_for(shop.supervisor).post(f"/api/v1/tickets/{ticket_id}/close/")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "illegal_transition"
    assert "cannot go from open to closed" in response.json()["error"]["message"]
    assert database_snapshot() == before


def test_wrong_role_is_refused_with_403(shop):
    before = database_snapshot()
    response = file_ticket(client_for(shop.machinist))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_permitted"
    assert database_snapshot() == before


def test_anonymous_requests_are_refused(shop):
    assert APIClient().get("/api/v1/tickets/").status_code in (401, 403)


def test_station_token_may_only_post_inspections(shop):
    station = client_for(shop.station_user, token=True)
    for url in ("/api/v1/tickets/", "/api/v1/stock/", "/api/v1/machines/", "/api/v1/jobs/"):
        assert station.get(url).status_code == 403, url
    assert file_ticket(station).status_code == 403
    assert not DamageTicket.objects.exists()


def test_station_posts_an_inspection_by_serial(shop):
    shop.printer.state = "maintenance"
    shop.printer.save()
    ticket_id = file_ticket(client_for(shop.engineer)).json()["id"]
    client_for(shop.engineer).post(
        "/api/v1/part-requests/",
        {"ticket": ticket_id, "revision": shop.revision.pk, "quantity": 1},
        format="json",
    )
    job = shop.mill.jobs.get()
    production.job_start(shop.machinist, job=job, lot=shop.blanks)
    [item] = production.job_finish(shop.machinist, job=job)
    station = client_for(shop.station_user, token=True)
    response = station.post(
        "/api/v1/inspections/",
        {"serial": item.serial, "verdict": "accepted", "measurements": [{"name": "H1.d", "value": 6.51}]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["station"] == shop.station.name
    item.refresh_from_db()
    assert item.status == "reserved"
    again = station.post(
        "/api/v1/inspections/", {"serial": item.serial, "verdict": "accepted"}, format="json"
    )
    assert again.status_code == 400 and "not awaiting inspection" in again.json()["error"]["message"]
    unknown = station.post("/api/v1/inspections/", {"serial": "NOPE", "verdict": "accepted"}, format="json")
    assert unknown.status_code == 400 and unknown.json()["error"]["field"] == "serial"


def test_machinist_runs_a_job_through_the_api(shop):
    shop.printer.state = "maintenance"
    shop.printer.save()
    ticket_id = file_ticket(client_for(shop.engineer)).json()["id"]
    client_for(shop.engineer).post(
        "/api/v1/part-requests/",
        {"ticket": ticket_id, "revision": shop.revision.pk, "quantity": 1},
        format="json",
    )
    job = shop.mill.jobs.get()
    api = client_for(shop.machinist)
    refused = api.post(f"/api/v1/jobs/{job.pk}/start/", {}, format="json")
    assert refused.status_code == 409 and refused.json()["error"]["field"] == "lot"
    started = api.post(f"/api/v1/jobs/{job.pk}/start/", {"lot": shop.blanks.pk}, format="json")
    assert started.status_code == 200 and started.json()["state"] == "running"
    finished = api.post(f"/api/v1/jobs/{job.pk}/finish/")
    assert finished.status_code == 200 and finished.json()[0]["status"] == "awaiting_inspection"
    serial = finished.json()[0]["serial"]
    assert api.get(f"/api/v1/stock/{serial}/").json()["program_sha256"] == job.program.sha256


def test_openapi_schema_is_served(shop):
    response = client_for(shop.engineer).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for path in (
        "/api/v1/tickets/",
        "/api/v1/part-requests/",
        "/api/v1/inspections/",
        "/api/v1/jobs/{id}/start/",
    ):
        assert path in schema["paths"], path


def test_estop_through_the_api_locks_the_machine_until_a_machinist_clears_it(shop):
    response = client_for(shop.engineer).post(f"/api/v1/machines/{shop.mill.pk}/estop/")
    # No runner holds the idle mill's port: the stop is recorded and the mill locked, but not delivered.
    assert response.status_code == 503 and response.json()["machine_state"] == "error"
    assert response.json()["status"] == "unreachable" and response.json()["delivered"] is False
    assert "Mill-1 unreachable: no controller is connected" in response.json()["message"]
    assert "use the machine's own emergency stop" in response.json()["message"]
    from machines.models import MachineCommand

    assert MachineCommand.objects.get(machine=shop.mill).command == "estop"
    refused = client_for(shop.engineer).post(
        f"/api/v1/machines/{shop.mill.pk}/clear-error/", {"note": "ok"}, format="json"
    )
    assert refused.status_code == 403
    cleared = client_for(shop.machinist).post(
        f"/api/v1/machines/{shop.mill.pk}/clear-error/", {"note": "checked"}, format="json"
    )
    assert cleared.status_code == 200 and cleared.json()["state"] == "idle"
    assert (
        client_for(shop.station_user, token=True).post(f"/api/v1/machines/{shop.mill.pk}/estop/").status_code
        == 403
    )
