"""Stock and traceability pages: counts by part, status and location; search by serial; each serial's
whole genealogy. Read-only pages, open to every person's role."""

from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from mes.inventory import selectors
from mes.inventory.forms import SerialSearchForm, StockFilterForm
from mes.inventory.models import StockItem, StockStatus
from mes.web import page_for


@require_GET
@page_for("stock")
def stock(request):
    """Units counted by revision and location, one column per status; filterable."""
    form = StockFilterForm(request.GET or None)
    rows = selectors.stock_table(**form.filters())
    context = {
        "form": form,
        "search": SerialSearchForm(),
        "rows": rows,
        "statuses": [StockStatus(value) for value in selectors.STATUS_ORDER],
        "totals": [sum(row.counts[i] for row in rows) for i in range(len(selectors.STATUS_ORDER))],
    }
    return render(request, "inventory/stock.html", context)


@require_GET
@page_for("stock")
def search(request):
    """Search by serial: an exact hit goes straight to its page, else the units whose serial starts so."""
    form = SerialSearchForm(request.GET or None)
    found: list[StockItem] = []
    if form.is_valid():
        exact, found = selectors.stock_items_by_serial(form.cleaned_data["q"])
        if exact is not None:
            return redirect("inventory:serial", serial=exact.serial)
    return render(request, "inventory/search.html", {"search": form, "found": found})


@require_GET
@page_for("stock")
def serial(request, serial: str):
    """One unit's genealogy: what it is for, how it was made, every inspection and every change."""
    try:
        genealogy = selectors.stock_item_genealogy(serial)
    except StockItem.DoesNotExist as missing:
        raise Http404(f"No unit with serial {serial}.") from missing
    return render(request, "inventory/serial.html", {"g": genealogy, "item": genealogy.item})
