"""The E-STOP is on screen for every person, on a desk and on a phone, and one touch stops the shop."""

import pytest
from playwright.sync_api import expect

from machines.models import MachineCommand
from mes.production.models import Machine
from tests.factories import make_shop
from tests.ui.conftest import DESK, PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("viewport", [DESK, PHONE], ids=["desk", "phone"])
def test_one_touch_on_the_estop_stops_every_machine(login, viewport):
    shop = make_shop()
    page = login(shop.engineer, viewport=viewport)
    button = page.get_by_test_id("estop-all")
    expect(button).to_be_visible()
    expect(button).to_be_in_viewport()  # no scrolling needed: fixed on screen
    button.click()
    # No runner holds either machine's port here: the page says so, machine by machine.
    expect(page.locator("#estop-status")).to_contain_text("Mill-1 unreachable: no controller is connected")
    expect(page.locator("#estop-status")).to_contain_text("Printer-1 unreachable")
    assert set(Machine.objects.values_list("state", flat=True)) == {"error"}
    assert MachineCommand.objects.filter(command="estop").count() == Machine.objects.count()
