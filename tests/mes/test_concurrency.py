"""Race-free reservation, proven with real concurrent transactions on PostgreSQL.

Each thread has its own database connection and transaction; a barrier releases them together so that
they really contend for the same rows.
"""

import contextlib
import threading

import pytest
from django.db import connection, connections

from mes.inventory import selectors as inventory_selectors
from mes.inventory import services as inventory
from mes.inventory.models import StockItem, StockStatus
from mes.production.models import WorkOrder
from mes.repairs import services as repairs
from mes.repairs.models import PartRequest
from tests.factories import make_shop
from vision import services as inspections

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

THREADS = 24


@pytest.fixture(autouse=True)
def _needs_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("row-level locking is proven on PostgreSQL (set DATABASE_URL); SQLite serialises writers")


def run_together(count: int, work) -> list[BaseException]:
    """Run ``work(index)`` in ``count`` threads released at the same instant; return their errors."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def body(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            work(index)
        except BaseException as exc:  # collected and asserted on by the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a request hung"
    return errors


def test_concurrent_requests_for_the_last_units_never_share_a_unit_or_lose_a_request():
    shop = make_shop()
    inventory.stock_item_receive(shop.supervisor, revision=shop.revision, quantity=5)
    tickets = [
        repairs.ticket_file(
            shop.engineer,
            sector=shop.sector,
            module=shop.module,
            severity="critical",
            description=f"breach {i}",
        )
        for i in range(THREADS)
    ]

    def request_one(index: int) -> None:
        repairs.part_request_create(shop.engineer, ticket=tickets[index], revision=shop.revision, quantity=1)

    assert run_together(THREADS, request_one) == []

    requests = PartRequest.objects.all()
    assert requests.count() == THREADS  # no request lost
    reserved = StockItem.objects.filter(status=StockStatus.RESERVED)
    assert reserved.count() == 5
    assert len({item.reserved_for_id for item in reserved}) == 5  # five different requests
    for request in requests:
        held = request.stock_items.count()
        ordered = sum(request.work_orders.values_list("quantity", flat=True))
        assert held + ordered == 1, f"{request} holds {held} and ordered {ordered}"
    assert WorkOrder.objects.count() == THREADS - 5


def test_concurrent_requests_for_two_units_each_split_the_stock_exactly():
    shop = make_shop()
    inventory.stock_item_receive(shop.supervisor, revision=shop.revision, quantity=7)
    tickets = [
        repairs.ticket_file(
            shop.engineer,
            sector=shop.sector,
            module=shop.module,
            severity="life_safety",
            description=f"breach {i}",
        )
        for i in range(20)
    ]

    def request_two(index: int) -> None:
        repairs.part_request_create(shop.engineer, ticket=tickets[index], revision=shop.revision, quantity=2)

    assert run_together(20, request_two) == []
    assert StockItem.objects.filter(status=StockStatus.RESERVED).count() == 7
    total = sum(
        r.stock_items.count() + sum(r.work_orders.values_list("quantity", flat=True))
        for r in PartRequest.objects.all()
    )
    assert total == 40


def test_parts_accepted_at_the_same_moment_never_overfill_a_request(monkeypatch):
    shop = make_shop()
    ticket = repairs.ticket_file(
        shop.engineer, sector=shop.sector, module=shop.module, severity="critical", description="x"
    )
    wanted = repairs.part_request_create(shop.engineer, ticket=ticket, revision=shop.revision, quantity=3)
    # Twenty finished parts wait at the camera; only their acceptance races here.
    items = [
        StockItem.objects.create(
            serial=f"T-{i:03d}", revision=shop.revision, status=StockStatus.AWAITING_INSPECTION
        )
        for i in range(20)
    ]

    def accept(index: int) -> None:
        inspections.inspection_record(shop.inspector, stock_item=items[index], verdict="accepted")

    # Force the interleaving the request's row lock exists for: every acceptance counts what the request
    # already holds, then waits for the others to have counted too before it reserves. With the lock,
    # only one can be counting at a time, so the wait times out and each counts after the previous one
    # committed; without it, all twenty count "0 held" and over-fill the request.
    counted = threading.Barrier(20)
    held_units = inventory_selectors.held_units

    def count_then_let_the_others_count(request):
        held = held_units(request)
        with contextlib.suppress(threading.BrokenBarrierError):
            counted.wait(timeout=2)
        return held

    monkeypatch.setattr(inventory_selectors, "held_units", count_then_let_the_others_count)
    assert run_together(20, accept) == []
    assert StockItem.objects.filter(reserved_for=wanted).count() == 3
    assert StockItem.objects.filter(status=StockStatus.ACCEPTED).count() == 17
