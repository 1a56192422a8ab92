"""Inventory services: stock received from outside production, and nonconformance dispositions.

Each checks the actor's role first; the steps themselves are in :mod:`mes.inventory.actions`.
"""

from django.db import transaction

from mes.catalog.models import PartRevision
from mes.core.errors import RuleViolation
from mes.core.roles import authorize
from mes.core.transitions import audited_save
from mes.inventory import actions
from mes.inventory.models import Location, Nonconformance, StockItem, StockStatus


@transaction.atomic
def stock_item_receive(
    actor, *, revision: PartRevision, quantity: int, location: Location | None = None
) -> list[StockItem]:
    """Book accepted units that came from outside production (spares, a previous shop's stock).

    Each is then reserved for the most urgent open request that needs it.
    """
    authorize(actor, "stock_item_receive")
    if quantity < 1:
        raise RuleViolation("Quantity must be at least 1.", field="quantity")
    if not revision.released:
        raise RuleViolation(f"{revision} is not released.", field="revision")
    items = []
    for serial in actions.do_serials_allocate(revision, quantity):
        item = StockItem(serial=serial, revision=revision, status=StockStatus.ACCEPTED, location=location)
        audited_save(item, actor=actor, reason="received into stock")
        actions.do_stock_item_reserve_for_most_urgent(item, actor=actor)
        items.append(item)
    return items


@transaction.atomic
def nonconformance_dispose(actor, *, ncr: Nonconformance, disposition: str, note: str):
    """Close a nonconformance: scrap the part, send it to rework (re-inspection), or use it as is."""
    authorize(actor, "nonconformance_dispose")
    ncr = Nonconformance.objects.select_for_update().get(pk=ncr.pk)
    return actions.do_nonconformance_close(ncr, disposition=disposition, note=note, actor=actor)
