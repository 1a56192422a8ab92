"""The inspectors' pages: parts the cameras rejected or could not judge, each with its evidence and the
decisions an inspector may take (accept, reject, rework, scrap), and the photos behind the evidence.

Media files are not served by the web server: :func:`image` streams an inspection's photo only to a
logged-in person whose role may see stock and inspections.
"""

import mimetypes

from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from mes.inventory.models import StockItem
from mes.web import attempt, page_for
from vision import selectors, services
from vision.forms import DecisionForm
from vision.models import Inspection

IMAGE_KINDS = {"photo": "image", "annotated": "annotated_image"}
DONE_WORDS = {
    "accept": "accepted",
    "reject": "rejected",
    "rework": "sent to rework (back to awaiting inspection)",
    "scrap": "scrapped",
}


def _decision_or_404(serial: str) -> selectors.Decision:
    try:
        return selectors.inspection_decision(serial)
    except StockItem.DoesNotExist as missing:
        raise Http404(f"No part with serial {serial}.") from missing


@require_GET
@page_for("inspection")
def queue(request):
    """Parts waiting for an inspector, newest verdict first."""
    return render(request, "inspection/queue.html", {"items": selectors.inspection_queue()})


def _item_page(request, decision: selectors.Decision, form: DecisionForm | None = None, status: int = 200):
    context = {
        "d": decision,
        "item": decision.item,
        "ins": decision.latest,
        "form": form or DecisionForm(),
    }
    return render(request, "inspection/item.html", context, status=status)


@require_GET
@page_for("inspection")
def item(request, serial: str):
    """One part's latest inspection: photos, measurements against tolerance, defects, and the decisions."""
    return _item_page(request, _decision_or_404(serial))


@require_POST
@page_for("inspection")
def decide(request, serial: str):
    """Accept, reject, rework or scrap a queued part, with a reason; back to the queue when done."""
    decision = _decision_or_404(serial)
    form = DecisionForm(request.POST)
    if form.is_valid():
        action, reason = form.cleaned_data["action"], form.cleaned_data["reason"]
        decide = services.stock_item_decide
        done, _ = attempt(lambda: decide(request.user, serial=serial, action=action, reason=reason), form)
        if done:
            messages.success(request, f"{decision.item} {DONE_WORDS[action]}.")
            return redirect("inspection:queue")
    return _item_page(request, _decision_or_404(serial), form, status=422)


@require_GET
@page_for("stock")
def image(request, pk: int, kind: str):
    """Stream an inspection's original photo (``photo``) or annotated picture (``annotated``).

    Media are never served without this check: log-in required, and a role that may see stock (every
    person's role; not camera stations).
    """
    if kind not in IMAGE_KINDS:
        raise Http404("No such picture.")
    try:
        inspection = selectors.inspection_get(pk)
    except Inspection.DoesNotExist as missing:
        raise Http404("No such inspection.") from missing
    stored = getattr(inspection, IMAGE_KINDS[kind])
    if not stored:
        raise Http404("This inspection has no such picture.")
    try:
        handle = stored.open("rb")
    except (FileNotFoundError, OSError) as missing:
        raise Http404("The picture file is missing.") from missing
    content_type = mimetypes.guess_type(stored.name)[0] or "application/octet-stream"
    response = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response
