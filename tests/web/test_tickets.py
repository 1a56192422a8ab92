"""Engineers' pages: file a ticket, request parts, follow them through production, issue, resolve, close."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from mes.catalog import services as catalog
from mes.core.roles import Role
from mes.inventory import services as inventory
from mes.inventory.models import StockItem
from mes.production import services as production
from mes.production.models import Job
from mes.repairs import services as repairs
from mes.repairs.models import DamageTicket, PartRequest
from tests.factories import database_snapshot

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def file_ticket(shop, severity="critical", description="Breach in the A3 bulkhead bracket"):
    return repairs.ticket_file(
        shop.engineer, sector=shop.sector, module=shop.module, severity=severity, description=description
    )


def block(html: str, testid: str) -> str:
    """The HTML of the element carrying ``data-testid=testid`` up to the end of its section/div/li."""
    start = html.index(f'data-testid="{testid}"')
    tag = html.rfind("<", 0, start)
    name = re.match(r"<(\w+)", html[tag:]).group(1)
    depth, pos = 0, tag
    for match in re.finditer(rf"<(/?){name}\b", html[tag:]):
        depth += -1 if match.group(1) else 1
        if depth == 0:
            pos = tag + match.end()
            break
    return html[tag:pos]


def text_of(html: str, testid: str) -> str:
    """The text inside the (innermost) element carrying ``data-testid=testid``."""
    match = re.search(rf'data-testid="{re.escape(testid)}"[^>]*>([^<]*)<', html)
    assert match, testid
    return match.group(1).strip()


def make_parts(shop, request: PartRequest, count: int | None = None) -> list[StockItem]:
    """Run (start, finish) up to ``count`` queued jobs of ``request`` through production."""
    made = []
    jobs = Job.objects.filter(work_order__part_request=request, state="queued").select_related("program")
    for job in list(jobs)[:count]:
        lot = shop.blanks if job.program.material == "Al 6061" else shop.pla
        production.job_start(shop.supervisor, job=job, lot=lot)
        made += production.job_finish(shop.supervisor, job=job)
    return made


# --- roles ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("role", "allowed"),
    [(Role.ENGINEER, True), (Role.SUPERVISOR, True), (Role.MACHINIST, False), (Role.INSPECTOR, False)],
)
def test_ticket_pages_open_for_engineers_and_supervisors_only(shop, role, allowed):
    ticket = file_ticket(shop)
    client = client_for(shop.user(role))
    urls = [
        reverse("repairs:tickets"),
        reverse("repairs:ticket-new"),
        reverse("repairs:ticket", args=[ticket.pk]),
        reverse("repairs:modules") + f"?sector={shop.sector.pk}",
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == (200 if allowed else 403), url
    before = database_snapshot()
    response = client.post(reverse("repairs:ticket-close", args=[ticket.pk]))
    assert response.status_code in ((422,) if allowed else (403,))
    assert database_snapshot() == before


def test_ticket_pages_need_a_login(shop):
    response = Client().get(reverse("repairs:ticket-new"))
    assert response.status_code == 302 and reverse("login") in response["Location"]


# --- the list ---------------------------------------------------------------------------------------------
def test_the_list_shows_open_tickets_first_by_severity_then_age(shop):
    old_routine = file_ticket(shop, "routine", "old routine")
    critical = file_ticket(shop, "critical", "critical one")
    life = file_ticket(shop, "life_safety", "life one")
    closed = file_ticket(shop, "life_safety", "closed one")
    repairs.ticket_resolve(shop.engineer, ticket=closed, resolution="patched")
    repairs.ticket_close(shop.engineer, ticket=closed)
    page = client_for(shop.engineer).get(reverse("repairs:tickets")).content.decode()
    order = [page.index(f'data-testid="ticket-{t.pk}"') for t in (life, critical, old_routine, closed)]
    assert order == sorted(order)
    assert "Life-safety" in page and "Closed" in page


# --- filing a ticket --------------------------------------------------------------------------------------
def test_the_new_ticket_form_has_the_stable_hooks_and_a_csrf_token(shop):
    page = client_for(shop.engineer).get(reverse("repairs:ticket-new")).content.decode()
    for hook in ('name="sector"', 'name="module"', 'name="description"', 'data-testid="file-ticket"'):
        assert hook in page, hook
    assert re.findall(r'type="radio" name="severity" value="(\w+)"', page) == [
        "life_safety",
        "critical",
        "routine",
    ]
    assert 'name="csrfmiddlewaretoken"' in page
    assert 'name="viewport" content="width=device-width' in page


def test_the_module_list_follows_the_sector(shop):
    client = client_for(shop.engineer)
    url = reverse("repairs:modules")
    options = client.get(url, {"sector": shop.sector.pk}).content.decode()
    assert f'value="{shop.module.pk}"' in options and f'value="{shop.other_module.pk}"' not in options
    other = client.get(url, {"sector": shop.other_module.sector_id}).content.decode()
    assert f'value="{shop.other_module.pk}"' in other and f'value="{shop.module.pk}"' not in other
    assert "Choose the sector first" in client.get(url).content.decode()


def test_filing_a_ticket_goes_to_its_page(shop):
    response = client_for(shop.engineer).post(
        reverse("repairs:ticket-new"),
        {
            "sector": shop.sector.pk,
            "module": shop.module.pk,
            "severity": "life_safety",
            "description": "Cracked bracket at the A3 airlock",
        },
    )
    ticket = DamageTicket.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("repairs:ticket", args=[ticket.pk])
    assert (ticket.sector, ticket.module, ticket.severity) == (shop.sector, shop.module, "life_safety")
    assert ticket.reporter == shop.engineer and ticket.description == "Cracked bracket at the A3 airlock"
    page = client_for(shop.engineer).get(response["Location"]).content.decode()
    assert text_of(page, "ticket-status") == "open"


def test_a_module_of_another_sector_is_refused_next_to_the_module(shop):
    response = client_for(shop.engineer).post(
        reverse("repairs:ticket-new"),
        {"sector": shop.sector.pk, "module": shop.other_module.pk, "severity": "routine", "description": "x"},
    )
    assert response.status_code == 422
    errors = block(response.content.decode(), "module-error")
    assert "Module H2 is not in sector Residential A." in errors
    assert not DamageTicket.objects.exists()


def test_a_ticket_without_a_description_is_refused_next_to_the_description(shop):
    response = client_for(shop.engineer).post(
        reverse("repairs:ticket-new"),
        {"sector": shop.sector.pk, "module": shop.module.pk, "severity": "routine", "description": "   "},
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert "Describe the damage." in block(page, "description-error")
    # what was typed stays selected
    assert f'<option value="{shop.module.pk}" selected>' in page
    assert 'value="routine" required checked' in page
    assert not DamageTicket.objects.exists()


# --- requesting parts ---------------------------------------------------------------------------------------
def test_requesting_parts_reserves_stock_first_and_queues_the_rest(shop):
    ticket = file_ticket(shop)
    received = inventory.stock_item_receive(shop.supervisor, revision=shop.revision, quantity=1)
    client = client_for(shop.engineer)
    page = client.get(reverse("repairs:ticket", args=[ticket.pk])).content.decode()
    form = block(page, "request-form")
    assert 'name="revision"' in form and "BRK-080" in form and 'name="quantity"' in form
    assert 'data-testid="request-parts"' in form

    response = client.post(
        reverse("repairs:request-create", args=[ticket.pk]), {"revision": shop.revision.pk, "quantity": 3}
    )
    assert response.status_code == 302
    request = PartRequest.objects.get()
    assert list(request.stock_items.values_list("serial", flat=True)) == [received[0].serial]
    work_order = request.work_orders.get()
    assert work_order.quantity == 2
    jobs = list(work_order.jobs.select_related("machine"))
    assert len(jobs) == 2

    page = client.get(response["Location"]).content.decode()
    section = block(page, f"request-{request.pk}")
    assert text_of(section, "request-status") == "open"
    assert received[0].serial in section and "from stock" in section
    for job in jobs:
        line = block(section, f"job-J-{job.pk:05d}")
        assert job.machine.name in line and "Queued" in line and "0%" in line
    assert text_of(page, "ticket-status") == "in_progress"
    # something is in production: the progress refreshes itself
    assert 'hx-trigger="every 3s"' in block(page, "live")


def test_a_refused_request_shows_why_next_to_the_field_and_stores_nothing(shop):
    ticket = file_ticket(shop)
    client = client_for(shop.engineer)
    before = database_snapshot()
    response = client.post(
        reverse("repairs:request-create", args=[ticket.pk]), {"revision": shop.revision.pk, "quantity": 0}
    )
    assert response.status_code == 422
    assert "Quantity must be at least 1." in block(response.content.decode(), "quantity-error")
    draft = catalog.part_revision_create(
        shop.supervisor, part=shop.part, revision="B", spec=shop.revision.spec, material="PLA"
    )
    before = database_snapshot()
    response = client.post(
        reverse("repairs:request-create", args=[ticket.pk]), {"revision": draft.pk, "quantity": 1}
    )
    assert response.status_code == 422
    assert "released part" in block(response.content.decode(), "revision-error")
    assert database_snapshot() == before


def test_no_machine_able_to_make_the_part_is_said_next_to_the_part(shop):
    ticket = file_ticket(shop)
    for machine in (shop.mill, shop.printer):
        machine.state = "maintenance"
        machine.save()
    before = database_snapshot()
    response = client_for(shop.engineer).post(
        reverse("repairs:request-create", args=[ticket.pk]), {"revision": shop.revision.pk, "quantity": 1}
    )
    assert response.status_code == 422
    assert "No machine in service can make BRK-080@A" in block(response.content.decode(), "revision-error")
    assert database_snapshot() == before


def test_the_progress_follows_jobs_and_stops_refreshing_when_nothing_is_made(shop):
    ticket = file_ticket(shop)
    request = repairs.part_request_create(shop.engineer, ticket=ticket, revision=shop.revision, quantity=1)
    job = Job.objects.get(work_order__part_request=request)
    client = client_for(shop.engineer)
    live_url = reverse("repairs:ticket-live", args=[ticket.pk])
    assert client.get(live_url).status_code == 302  # a plain browser goes to the page

    lot = shop.blanks if job.program.material == "Al 6061" else shop.pla
    production.job_start(shop.supervisor, job=job, lot=lot)
    Job.objects.filter(pk=job.pk).update(progress=0.42)
    live = client.get(live_url, HTTP_HX_REQUEST="true").content.decode()
    line = block(live, f"job-J-{job.pk:05d}")
    assert "Running" in line and text_of(line, "job-progress") == "42%"
    assert f'id="request-{request.pk}-live" hx-swap-oob="true"' in live
    assert 'hx-trigger="every 3s"' in block(live, "live")

    made = production.job_finish(shop.supervisor, job=job)
    live = client.get(live_url, HTTP_HX_REQUEST="true").content.decode()
    assert "Awaiting inspection" in live and made[0].serial in live
    assert 'hx-trigger="every 3s"' in block(live, "live")  # still followed until inspected

    from vision import services as vision

    vision.inspection_record(shop.inspector, stock_item=made[0], verdict="accepted")
    live = client.get(live_url, HTTP_HX_REQUEST="true").content.decode()
    assert text_of(live, "request-status") == "ready"
    assert 'data-testid="issue-parts"' in live
    assert "hx-trigger" not in block(live, "live")


# --- issue, cancel, resolve, close --------------------------------------------------------------------------
def test_issuing_resolving_and_closing_a_ticket(shop):
    ticket = file_ticket(shop)
    inventory.stock_item_receive(shop.supervisor, revision=shop.revision, quantity=2)
    request = repairs.part_request_create(shop.engineer, ticket=ticket, revision=shop.revision, quantity=2)
    client = client_for(shop.engineer)
    page_url = reverse("repairs:ticket", args=[ticket.pk])
    page = client.get(page_url).content.decode()
    section = block(page, f"request-{request.pk}")
    assert text_of(section, "request-status") == "ready"
    assert 'data-testid="issue-parts"' in section
    assert 'data-testid="close-ticket"' not in page  # not resolved yet

    response = client.post(reverse("repairs:request-issue", args=[ticket.pk, request.pk]))
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.status == "issued"
    assert set(StockItem.objects.values_list("status", "issued_to")) == {("issued", ticket.pk)}
    page = client.get(page_url).content.decode()
    assert text_of(block(page, f"request-{request.pk}"), "request-status") == "issued"
    assert 'data-testid="issue-parts"' not in page

    response = client.post(
        reverse("repairs:ticket-resolve", args=[ticket.pk]), {"resolution": "Bracket fitted"}
    )
    assert response.status_code == 302
    page = client.get(page_url).content.decode()
    assert text_of(page, "ticket-status") == "resolved" and 'data-testid="close-ticket"' in page
    assert 'data-testid="resolve-ticket"' not in page

    response = client.post(reverse("repairs:ticket-close", args=[ticket.pk]))
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "closed" and ticket.resolution == "Bracket fitted"
    page = client.get(page_url).content.decode()
    assert text_of(page, "ticket-status") == "closed"
    assert 'data-testid="request-parts"' not in page and 'data-testid="close-ticket"' not in page
    assert "resolved -&gt; closed" in page or "resolved -> closed" in page  # history


def test_closing_an_unresolved_ticket_is_refused_next_to_the_button(shop):
    ticket = file_ticket(shop)
    before = database_snapshot()
    response = client_for(shop.engineer).post(reverse("repairs:ticket-close", args=[ticket.pk]))
    assert response.status_code == 422
    message = text_of(response.content.decode(), "close-error")
    assert "cannot go from open to closed" in message
    assert database_snapshot() == before


def test_resolving_needs_a_resolution_and_every_request_settled(shop):
    ticket = file_ticket(shop)
    request = repairs.part_request_create(shop.engineer, ticket=ticket, revision=shop.revision, quantity=1)
    client = client_for(shop.engineer)
    url = reverse("repairs:ticket-resolve", args=[ticket.pk])
    before = database_snapshot()
    response = client.post(url, {"resolution": ""})
    assert response.status_code == 422
    assert "Say how the damage was repaired." in block(response.content.decode(), "resolution-error")
    response = client.post(url, {"resolution": "Welded"})
    assert response.status_code == 422
    assert f"still waits for parts ({request})" in block(response.content.decode(), "resolve-error")
    assert database_snapshot() == before


def test_issuing_with_nothing_reserved_is_refused_inside_the_request(shop):
    ticket = file_ticket(shop)
    request = repairs.part_request_create(shop.engineer, ticket=ticket, revision=shop.revision, quantity=1)
    before = database_snapshot()
    response = client_for(shop.engineer).post(reverse("repairs:request-issue", args=[ticket.pk, request.pk]))
    assert response.status_code == 422
    section = block(response.content.decode(), f"request-{request.pk}")
    assert "has no parts reserved yet" in text_of(section, "issue-error")
    assert database_snapshot() == before


def test_cancelling_a_request_needs_a_reason(shop):
    ticket = file_ticket(shop)
    request = repairs.part_request_create(shop.engineer, ticket=ticket, revision=shop.revision, quantity=1)
    client = client_for(shop.engineer)
    url = reverse("repairs:request-cancel", args=[ticket.pk, request.pk])
    before = database_snapshot()
    response = client.post(url, {"reason": " "})
    assert response.status_code == 422
    section = block(response.content.decode(), f"request-{request.pk}")
    assert "Say why the request is cancelled." in text_of(section, "cancel-error")
    assert database_snapshot() == before
    assert client.post(url, {"reason": "Patched with a spare"}).status_code == 302
    request.refresh_from_db()
    assert request.status == "cancelled"
    assert set(Job.objects.values_list("state", flat=True)) == {"cancelled"}


def test_a_request_of_another_ticket_is_not_found(shop):
    ticket, other = file_ticket(shop), file_ticket(shop)
    request = repairs.part_request_create(shop.engineer, ticket=other, revision=shop.revision, quantity=1)
    client = client_for(shop.engineer)
    assert client.post(reverse("repairs:request-issue", args=[ticket.pk, request.pk])).status_code == 404
    assert client.get(reverse("repairs:ticket", args=[99999])).status_code == 404


def test_forms_on_the_ticket_page_need_a_csrf_token(shop):
    ticket = file_ticket(shop)
    client = Client(enforce_csrf_checks=True)
    client.force_login(shop.engineer)
    response = client.post(reverse("repairs:ticket-resolve", args=[ticket.pk]), {"resolution": "x"})
    assert response.status_code == 403
    ticket.refresh_from_db()
    assert ticket.status == "open"


# --- queries ----------------------------------------------------------------------------------------------
def _queries(client, url, **headers) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **headers)
    assert response.status_code == 200
    return len(captured)


def test_the_ticket_page_reads_a_constant_number_of_queries(shop):
    client = client_for(shop.engineer)
    small = file_ticket(shop)
    repairs.part_request_create(shop.engineer, ticket=small, revision=shop.revision, quantity=1)

    large = file_ticket(shop, "life_safety")
    inventory.stock_item_receive(shop.supervisor, revision=shop.revision, quantity=2)
    first = repairs.part_request_create(shop.engineer, ticket=large, revision=shop.revision, quantity=4)
    second = repairs.part_request_create(shop.engineer, ticket=large, revision=shop.revision, quantity=3)
    repairs.part_request_create(shop.engineer, ticket=large, revision=shop.revision, quantity=2)
    made = make_parts(shop, first, 2) + make_parts(shop, second, 1)
    from vision import services as vision

    vision.inspection_record(shop.inspector, stock_item=made[0], verdict="accepted")
    vision.inspection_record(shop.inspector, stock_item=made[1], verdict="rejected", reason="burr")
    assert Job.objects.filter(work_order__part_request__ticket=large).count() >= 6

    for name in ("repairs:ticket", "repairs:ticket-live"):
        counts = [
            _queries(client, reverse(name, args=[ticket.pk]), HTTP_HX_REQUEST="true")
            for ticket in (small, large)
        ]
        assert counts[0] == counts[1], (name, counts)
    page = client.get(reverse("repairs:ticket", args=[large.pk])).content.decode()
    assert made[1].serial in block(page, f"request-{first.pk}")  # the rejected unit is shown
