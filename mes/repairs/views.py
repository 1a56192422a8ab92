"""Engineers' pages: file damage tickets, request parts, follow them through production, resolve and close.

Every action is a plain form post: on success the browser is redirected back to the page (post/redirect/get),
on refusal the page is rendered again with status 422 and the service's words next to the field or button
that caused it. The only htmx on these pages is the module list that follows the chosen sector and the
production progress that refreshes itself while parts are being made.
"""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from mes.production import selectors as production_selectors
from mes.repairs import selectors, services
from mes.repairs.forms import PartRequestForm, ResolveForm, TicketForm
from mes.repairs.models import DamageTicket, PartRequest, TicketStatus
from mes.web import attempt, page_for, status_for

LIVE_REFRESH_SECONDS = 3


def _ticket_or_404(pk: int) -> DamageTicket:
    try:
        return selectors.ticket_get(pk)
    except DamageTicket.DoesNotExist as missing:
        raise Http404("No such ticket.") from missing


def _request_or_404(ticket_pk: int, request_pk: int) -> PartRequest:
    try:
        return selectors.request_of_ticket(ticket_pk, request_pk)
    except PartRequest.DoesNotExist as missing:
        raise Http404("No such part request on this ticket.") from missing


def _to_ticket(ticket_pk: int):
    return redirect("repairs:ticket", pk=ticket_pk)


@require_GET
@page_for("tickets")
def tickets(request):
    """Every ticket, open ones first, most severe and oldest first, with how far its requests are."""
    return render(request, "repairs/tickets.html", {"tickets": selectors.ticket_list()})


@page_for("tickets")
def ticket_new(request):
    """File a ticket; on success go to its page to request parts."""
    form = TicketForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        filed: list[DamageTicket] = []
        done, _ = attempt(lambda: filed.append(services.ticket_file(request.user, **form.cleaned_data)), form)
        if done:
            messages.success(request, f"{filed[0]} filed.")
            return _to_ticket(filed[0].pk)
    status = 422 if form.is_bound else 200
    return render(request, "repairs/ticket_new.html", {"form": form}, status=status)


@require_GET
@page_for("tickets")
def modules(request):
    """The module select for the sector in ``?sector=`` (swapped in by htmx when the sector changes)."""
    form = TicketForm(initial={"sector": request.GET.get("sector"), "module": request.GET.get("module")})
    return render(request, "repairs/_module_select.html", {"form": form})


def _mark_blocked_jobs(progress) -> None:
    """Say, on each queued job that cannot start on its machine, why (``job.cannot_start``)."""
    jobs = [job for entry in progress for work_order in entry.work_orders for job in work_order.job_list]
    blocked = production_selectors.queued_jobs_blocked(jobs)
    for job in jobs:
        job.cannot_start = blocked.get(job.pk, "")


def _ticket_page(
    request,
    ticket: DamageTicket,
    *,
    request_form: PartRequestForm | None = None,
    resolve_form: ResolveForm | None = None,
    close_error: str = "",
    refused: tuple[int, str, str, str] | None = None,
    status: int = 200,
):
    """Render a ticket's page. ``refused`` is (request pk, action, message, typed reason) of a refused
    action on one request, shown next to that request's button."""
    progress = selectors.ticket_requests_progress(ticket)
    _mark_blocked_jobs(progress)
    if refused is not None:
        for entry in progress:
            if entry.request.pk == refused[0]:
                entry.error_action, entry.error, entry.typed_reason = refused[1:]
    context = {
        "ticket": ticket,
        "progress": progress,
        "in_production": any(entry.in_production for entry in progress),
        "refresh_seconds": LIVE_REFRESH_SECONDS,
        "request_form": request_form or PartRequestForm(),
        "resolve_form": resolve_form or ResolveForm(),
        "close_error": close_error,
        "history": selectors.ticket_history(ticket),
        "is_open": ticket.status in selectors.TICKET_STATES_OPEN,
        "is_resolved": ticket.status == TicketStatus.RESOLVED,
    }
    return render(request, "repairs/ticket.html", context, status=status)


@require_GET
@page_for("tickets")
def ticket(request, pk: int):
    """A ticket: its requests end to end, and the buttons to request, issue, cancel, resolve and close."""
    return _ticket_page(request, _ticket_or_404(pk))


@require_GET
@page_for("tickets")
def ticket_live(request, pk: int):
    """The production progress of every request (htmx polls this while anything is being made)."""
    ticket = _ticket_or_404(pk)
    if not request.htmx:
        return _to_ticket(pk)
    progress = selectors.ticket_requests_progress(ticket)
    _mark_blocked_jobs(progress)
    context = {
        "ticket": ticket,
        "progress": progress,
        "in_production": any(entry.in_production for entry in progress),
        "refresh_seconds": LIVE_REFRESH_SECONDS,
    }
    return render(request, "repairs/_live.html", context)


@require_POST
@page_for("tickets")
def request_create(request, pk: int):
    """Request parts: stock is reserved first, the rest becomes a work order dispatched to machines."""
    ticket = _ticket_or_404(pk)
    form = PartRequestForm(request.POST)
    done = False
    if form.is_valid():
        created: list[PartRequest] = []
        done, _ = attempt(
            lambda: created.append(
                services.part_request_create(request.user, ticket=ticket, **form.cleaned_data)
            ),
            form,
        )
    if done:
        messages.success(request, f"{created[0]}: {created[0].quantity} of {created[0].revision} requested.")
        return _to_ticket(pk)
    return _ticket_page(request, _ticket_or_404(pk), request_form=form, status=422)


@require_POST
@page_for("tickets")
def request_issue(request, pk: int, request_pk: int):
    """Issue the units reserved for a request to its ticket."""
    part_request = _request_or_404(pk, request_pk)
    issued: list[int] = []
    done, refusal = attempt(
        lambda: issued.append(services.part_request_issue(request.user, request=part_request))
    )
    if done:
        messages.success(request, f"{issued[0]} unit(s) of {part_request} issued.")
        return _to_ticket(pk)
    return _ticket_page(
        request, _ticket_or_404(pk), refused=(part_request.pk, "issue", refusal, ""), status=status_for(False)
    )


@require_POST
@page_for("tickets")
def request_cancel(request, pk: int, request_pk: int):
    """Cancel a request (with a reason): its units go to the next request in line, queued jobs stop."""
    part_request = _request_or_404(pk, request_pk)
    reason = request.POST.get("reason", "")
    done, refusal = attempt(
        lambda: services.part_request_cancel(request.user, request=part_request, reason=reason)
    )
    if done:
        messages.success(request, f"{part_request} cancelled.")
        return _to_ticket(pk)
    return _ticket_page(
        request,
        _ticket_or_404(pk),
        refused=(part_request.pk, "cancel", refusal, reason),
        status=status_for(False),
    )


@require_POST
@page_for("tickets")
def ticket_resolve(request, pk: int):
    """Resolve the ticket with how the damage was repaired (every request issued or cancelled)."""
    ticket = _ticket_or_404(pk)
    form = ResolveForm(request.POST)
    done = False
    if form.is_valid():
        resolution = form.cleaned_data["resolution"]
        done, _ = attempt(
            lambda: services.ticket_resolve(request.user, ticket=ticket, resolution=resolution), form
        )
    if done:
        messages.success(request, f"{ticket} resolved.")
        return _to_ticket(pk)
    return _ticket_page(request, _ticket_or_404(pk), resolve_form=form, status=422)


@require_POST
@page_for("tickets")
def ticket_close(request, pk: int):
    """Close a resolved ticket."""
    ticket = _ticket_or_404(pk)
    done, refusal = attempt(lambda: services.ticket_close(request.user, ticket=ticket))
    if done:
        messages.success(request, f"{ticket} closed.")
        return _to_ticket(pk)
    return _ticket_page(request, _ticket_or_404(pk), close_error=refusal, status=422)
