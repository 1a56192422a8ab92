"""What every page shares: each role sees its own areas, the E-STOP stops every machine, forms need CSRF."""

import pytest
from django.test import Client
from django.urls import reverse

from machines.models import MachineCommand
from mes.core.roles import PAGES, Role
from mes.production.models import Machine

pytestmark = pytest.mark.django_db

AREA_URLS = {
    "terminal": "terminal:home",
    "tickets": "repairs:tickets",
    "inspection": "inspection:queue",
    "stock": "inventory:stock",
    "dashboards": "dashboards:home",
}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("role", [Role.MACHINIST, Role.ENGINEER, Role.INSPECTOR, Role.SUPERVISOR])
def test_each_role_opens_its_own_areas_and_is_told_plainly_about_the_others(shop, role):
    client = client_for(shop.user(role))
    for area, url_name in AREA_URLS.items():
        response = client.get(reverse(url_name))
        if role in PAGES[area]:
            assert response.status_code == 200, (area, role)
        else:
            assert response.status_code == 403, (area, role)
            assert "This page is for" in response.content.decode()


def test_a_station_account_opens_no_page(shop):
    client = client_for(shop.station_user)
    for url_name in AREA_URLS.values():
        assert client.get(reverse(url_name)).status_code == 403


def test_pages_need_a_login(client):
    response = client.get(reverse("terminal:home"))
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_the_estop_is_on_every_page_of_every_person(shop):
    for role in (Role.MACHINIST, Role.ENGINEER, Role.INSPECTOR, Role.SUPERVISOR):
        page = client_for(shop.user(role)).get(reverse("home"), follow=True).content.decode()
        assert 'data-testid="estop-all"' in page, role


def test_estop_all_stops_every_machine_that_could_move_and_locks_it(shop):
    client = client_for(shop.engineer)  # anyone at a terminal may stop the shop
    response = client.post(reverse("production:estop-all"), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    # No runner is connected to either machine: each is locked, and the page says no stop was delivered.
    assert response.status_code == 503
    assert "Mill-1 unreachable" in body and "Printer-1 unreachable" in body
    assert body.count('data-status="unreachable"') == 2
    machines = Machine.objects.all()
    assert {m.state for m in machines} == {"error"}
    assert MachineCommand.objects.filter(command="estop").count() == machines.count()


def test_forms_are_refused_without_a_csrf_token(shop):
    client = Client(enforce_csrf_checks=True)
    client.force_login(shop.machinist)
    response = client.post(reverse("production:estop-all"))
    assert response.status_code == 403
    assert "Nothing was changed" in response.content.decode()
    assert not MachineCommand.objects.exists()
