"""The mill's own controls on its terminal page: overrides during a job, unlock/home after an alarm.

Each is a real touch target (at least 56 px high) at phone, tablet and terminal sizes, and a touch
becomes a command on the machine's control channel (overrides) or a confirmation page (unlock, home).
"""

import pytest
from playwright.sync_api import expect

from machines.models import MachineCommand
from mes.production.models import Machine
from tests.factories import make_shop, started_mill_job
from tests.ui.conftest import PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TABLET = {"width": 820, "height": 1180}
TERMINAL = {"width": 1280, "height": 800}
TOUCH_PX = 56


def running_mill_job(shop):
    job = started_mill_job(shop)
    on_cable(shop.mill)
    return job


def on_cable(machine):
    """Give the machine a serial port: the terminal offers its controller's controls only then."""
    Machine.objects.filter(pk=machine.pk).update(port_url="sim://grbl")


@pytest.mark.parametrize("viewport", [PHONE, TABLET, TERMINAL], ids=["phone", "tablet", "terminal"])
def test_override_buttons_are_touch_targets_and_a_touch_reaches_the_control_channel(login, viewport):
    shop = make_shop()
    running_mill_job(shop)
    page = login(shop.machinist, viewport=viewport)
    page.goto(f"/terminal/machines/{shop.mill.pk}/")
    controls = page.get_by_test_id("override-controls")
    expect(controls).to_be_visible()
    buttons = controls.locator("button")
    assert buttons.count() >= 8  # feed and spindle -10/+10/reset, rapid 100/50/25
    for index in range(buttons.count()):
        box = buttons.nth(index).bounding_box()
        assert box is not None and box["height"] >= TOUCH_PX, (index, box)
    page.get_by_test_id("override-feed-+10").click()
    expect(page.locator(f"#msg-{shop.mill.pk}")).not_to_be_empty()
    assert MachineCommand.objects.filter(machine=shop.mill, command="feed:+10").exists()


def test_after_an_alarm_unlock_and_home_are_offered_and_each_asks_for_confirmation(login):
    shop = make_shop()
    Machine.objects.filter(pk=shop.mill.pk).update(state="error", state_reason="ALARM:1 Hard limit triggered")
    on_cable(shop.mill)
    page = login(shop.machinist, viewport=TERMINAL)
    page.goto(f"/terminal/machines/{shop.mill.pk}/")
    for testid in ("unlock", "home"):
        box = page.get_by_test_id(testid).bounding_box()
        assert box is not None and box["height"] >= TOUCH_PX
    page.get_by_test_id("home").click()
    expect(page.locator("main")).to_contain_text("$H")  # the confirmation says what will happen
    assert not MachineCommand.objects.filter(machine=shop.mill, command="home").exists()  # not yet
