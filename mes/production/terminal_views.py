"""The machinists' shop terminal: machine tiles that refresh every second, queues, pre-flight and actions.

Every action is a POST that calls one service through :func:`mes.web.attempt`. A one-touch action on a
tile (pause, resume, confirm removal) answers an htmx request with a short message for the tile's message
area (outside the refreshed region, so it stays readable); without htmx it redirects back on success and
re-renders the page with the refusal next to the button (422). Actions that need input or a second
thought (start, cancel, clear error, load lot) have their own page, so no refresh can eat a half-filled form.
"""

from collections.abc import Sequence

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.backends.utils import csrf_input
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from mes.production import selectors, services
from mes.production.forms import ClearErrorForm, ClearMachinesForm, LotLoadForm, PreflightForm
from mes.production.models import Job, JobState, Machine, MachineState
from mes.production.templatetags.terminal import tiles_live
from mes.web import attempt, page_for, status_for

# htmx event that makes the board poll at once after an action (see templates/terminal/_poll.html).
REFRESH_EVENT = "terminal-refresh"


def _job_label(job: Job) -> str:
    return f"J-{job.pk:05d}"


def _board_context(
    request,
    board: selectors.TerminalBoard,
    *,
    page: str,
    refusal: tuple | None = None,
    live: Sequence[selectors.MachineTile] | None = None,
    oob: bool = False,
) -> dict:
    """Context of a page showing tiles (``page``: "home" or "machine", where a tile's form returns to).

    ``refusal`` is (machine pk, message): shown on that machine's tile. ``csrf_field`` is the hidden CSRF
    input made once for the page (``{% csrf_token %}`` would mask a new token for each of 100+ forms).
    ``live`` are the tiles whose live part the page shows (default: all), fetched from the tile cache
    together; ``oob`` marks them for an out-of-band swap.
    """
    refused_machine, message = refusal or (None, "")
    if page == "machine" and board.machine_ids:
        back_url = reverse("terminal:machine", args=[board.machine_ids[0]])
    else:
        back_url = reverse("terminal:home")
    live = board.tiles if live is None else live
    return {
        "csrf_field": csrf_input(request),
        "live_tiles": tiles_live(live, page=page, back_url=back_url, oob=oob),
        "oob": oob,
        "board": board,
        "known": ",".join(str(pk) for pk in board.machine_ids),
        "page": page,
        "back_url": back_url,
        "refused_machine": refused_machine,
        "refusal": message,
    }


def _render_home(request, *, refusal: tuple | None = None, status: int = 200):
    context = _board_context(request, selectors.terminal_board(), page="home", refusal=refusal)
    return render(request, "terminal/home.html", context, status=status)


def _render_machine(request, machine: Machine, *, refusal: tuple | None = None, status: int = 200):
    board = selectors.terminal_board(machine_ids=[machine.pk])
    context = _board_context(request, board, page="machine", refusal=refusal)
    queue = selectors.machine_queue_cards(machine)
    blocked = selectors.queued_jobs_blocked(Job.objects.filter(pk__in=[card.pk for card in queue]))
    controller = selectors.machine_controller_card(machine)
    context.update(machine=machine, tile=board.tiles[0], queue=queue, blocked=blocked, controller=controller)
    return render(request, "terminal/machine.html", context, status=status)


def _next_url(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or default
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return default
    return target


@page_for("terminal")
def home(request):
    """A tile per machine, the life-safety banner, and the grid's live refresh."""
    return _render_home(request)


@page_for("terminal")
def board(request):
    """The live fragment: the banner and the live part of every tile that changed, swapped out-of-band.

    ``machine`` restricts it to one machine (the machine page); ``known`` lists the machines the page
    shows: when machines were added or removed since, the page reloads instead (HX-Refresh). ``have``
    ("pk:version,...") says which tile versions the page holds: those are not sent again, which saves the
    render and never swaps a button that did not change from under a finger.
    """
    machine_id = request.GET.get("machine")
    machine_ids = [int(machine_id)] if machine_id and machine_id.isdigit() else None
    data = selectors.terminal_board(machine_ids=machine_ids)
    known = request.GET.get("known")
    if known is not None and known != ",".join(str(pk) for pk in data.machine_ids):
        response = HttpResponse()
        response["HX-Refresh"] = "true"
        return response
    have = dict(pair.partition(":")[::2] for pair in request.GET.get("have", "").split(",") if pair)
    changed = [tile for tile in data.tiles if have.get(str(tile.pk)) != tile.version]
    page = "machine" if machine_ids else "home"
    context = _board_context(request, data, page=page, live=changed, oob=True)
    context["changed"] = changed
    return render(request, "terminal/_board.html", context)


@page_for("terminal")
def machine_detail(request, pk: int):
    """One machine: its tile, its whole queue in priority order, and links to load a lot or clear it."""
    return _render_machine(request, get_object_or_404(Machine, pk=pk))


def _tile_action(request, machine: Machine, call, done: str):
    """Run a one-touch tile action and answer in the way the request came (htmx or a plain form)."""
    succeeded, refusal = attempt(call)
    message = done if succeeded else refusal
    if request.htmx:
        response = render(
            request,
            "terminal/_action_result.html",
            {"done": succeeded, "message": message},
            status=status_for(succeeded),
        )
        response["HX-Trigger"] = REFRESH_EVENT
        return response
    if succeeded:
        messages.success(request, message)
        return redirect(_next_url(request, reverse("terminal:home")))
    refused = (machine.pk, message)
    if request.POST.get("page") == "machine":
        return _render_machine(request, machine, refusal=refused, status=422)
    return _render_home(request, refusal=refused, status=422)


def _posted(request):
    """The form data of a POST (even an empty one, which must show "required" errors), else None."""
    return request.POST if request.method == "POST" else None


def _job(pk: int) -> Job:
    return get_object_or_404(Job.objects.select_related("machine", "program"), pk=pk)


def _one_touch(service, done: str, doc: str):
    """A tile's one-touch action view: POST, call ``service(actor, job=...)``, answer with ``done``
    (formatted with the job's label and machine) or the refusal."""

    @require_POST
    @page_for("terminal")
    def view(request, pk: int):
        job = _job(pk)
        message = done.format(job=_job_label(job), machine=job.machine)
        return _tile_action(request, job.machine, lambda: service(request.user, job=job), message)

    view.__doc__ = doc
    return view


job_pause = _one_touch(services.job_pause, "{job} paused on {machine}.", "Pause a running job.")
job_resume = _one_touch(services.job_resume, "{job} resumed on {machine}.", "Resume a paused job.")
job_finish = _one_touch(
    services.job_finish,
    "Part of {job} removed from {machine}; booked for inspection.",
    "The machinist confirms the part is off the bed; its stock item is booked for inspection.",
)


@page_for("terminal")
def job_cancel(request, pk: int):
    """Cancel the current job of a machine: a confirmation page first, then the POST from its button."""
    job = _job(pk)
    status, refusal = 200, ""
    if request.method == "POST":
        succeeded, refusal = attempt(lambda: services.job_cancel(request.user, job=job))
        if succeeded:
            messages.success(request, f"{_job_label(job)} cancelled on {job.machine}.")
            return redirect("terminal:home")
        status = 422
    card = selectors.job_card(job.pk)
    context = {"job": job, "card": card, "refusal": refusal}
    return render(request, "terminal/cancel.html", context, status=status)


@page_for("terminal")
def job_start(request, pk: int):
    """Pre-flight: the checklist, the lot (quantity on hand against the program's need), the program's
    SHA-256; Start calls the start service, whose interlock refusals land next to the field or button."""
    job = get_object_or_404(
        Job.objects.select_related("machine__loaded_lot", "program", "work_order__revision__part"), pk=pk
    )
    form = PreflightForm(_posted(request), job=job)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            lot = form.cleaned_data["lot"]
            succeeded, _ = attempt(lambda: services.job_start(request.user, job=job, lot=lot), form)
            if succeeded:
                messages.success(request, f"{_job_label(job)} started on {job.machine}.")
                return redirect("terminal:home")
        status = 422
    card = selectors.job_card(job.pk)
    context = {
        "job": job,
        "card": card,
        "form": form,
        "program": job.program,
        "needed": job.program.material_use,
        "startable": job.state == JobState.QUEUED,
    }
    return render(request, "terminal/preflight.html", context, status=status)


@page_for("terminal")
def machine_clear_error(request, pk: int):
    """A machinist says what they checked or fixed; the machine goes back to idle."""
    machine = get_object_or_404(Machine, pk=pk)
    form = ClearErrorForm(_posted(request))
    status = 200
    if request.method == "POST" and form.is_valid():
        note = form.cleaned_data["note"]
        succeeded, _ = attempt(
            lambda: services.machine_clear_error(request.user, machine=machine, note=note), form
        )
        if succeeded:
            messages.success(request, f"{machine} cleared and idle.")
            return redirect("terminal:home")
    if request.method == "POST":
        status = 422
    tile = selectors.terminal_board(machine_ids=[machine.pk]).tiles[0]
    context = {"machine": machine, "tile": tile, "form": form}
    return render(request, "terminal/clear_error.html", context, status=status)


@page_for("terminal")
def machines_clear_error(request):
    """After a shop-wide E-STOP: tick each machine you checked, write one note, clear them together."""
    in_error = Machine.objects.filter(state=MachineState.ERROR).order_by("name")
    form = ClearMachinesForm(_posted(request), in_error=in_error)
    status = 200
    if request.method == "POST" and form.is_valid():
        chosen, note = list(form.cleaned_data["machines"]), form.cleaned_data["note"]
        succeeded, _ = attempt(
            lambda: services.machines_clear_error(request.user, machines=chosen, note=note), form
        )
        if succeeded:
            messages.success(request, f"Cleared and idle: {', '.join(m.name for m in chosen)}.")
            return redirect("terminal:home")
    if request.method == "POST":
        status = 422
    return render(
        request, "terminal/clear_machines.html", {"form": form, "in_error": in_error}, status=status
    )


@page_for("terminal")
def machine_lot_load(request, pk: int):
    """Choose the lot now on the machine, among lots of a material its programs use."""
    machine = get_object_or_404(Machine.objects.select_related("loaded_lot"), pk=pk)
    form = LotLoadForm(_posted(request), machine=machine)
    status = 200
    if request.method == "POST" and form.is_valid():
        lot = form.cleaned_data["lot"]

        def load():
            return services.machine_lot_load(request.user, machine=machine, lot=lot)

        succeeded, _ = attempt(load, form)
        if succeeded:
            messages.success(request, f"Lot {lot.code} loaded on {machine}.")
            return redirect(_next_url(request, reverse("terminal:home")))
    if request.method == "POST":
        status = 422
    return render(request, "terminal/load_lot.html", {"machine": machine, "form": form}, status=status)


# What each controller command does, said on its confirmation page before the machinist confirms.
MAINTENANCE_PAGES = {
    "unlock": {
        "title": "Unlock ($X)",
        "warning": "$X clears the alarm lock without homing: the machine's position may be wrong.",
        "after": "The machine's error stays until you clear it with a note.",
        "button": "Unlock the controller",
    },
    "home": {
        "title": "Home ($H)",
        "warning": "$H runs the homing cycle: the spindle moves to the limit switches.",
        "after": "Keep hands and tools clear of the machine. If homing succeeds, the machine's error is "
        "cleared and it becomes idle.",
        "button": "Home the machine",
    },
}


def _maintenance_view(kind: str, service, doc: str):
    """A controller command's page: what will happen and why the machine stopped (GET), then the
    machinist's confirmation (POST) queues the command; its outcome appears on the machine's page."""

    @page_for("terminal")
    def view(request, pk: int):
        machine = get_object_or_404(Machine, pk=pk)
        status, refusal = 200, ""
        if request.method == "POST":
            succeeded, refusal = attempt(lambda: service(request.user, machine=machine))
            if succeeded:
                words = MAINTENANCE_PAGES[kind]["title"]
                messages.success(request, f"{words} sent to {machine}; its answer appears below.")
                return redirect("terminal:machine", pk=machine.pk)
            status = 409
        context = {
            "machine": machine,
            "tile": selectors.terminal_board(machine_ids=[machine.pk]).tiles[0],
            "controller": selectors.machine_controller_card(machine),
            "page_text": MAINTENANCE_PAGES[kind],
            "refusal": refusal,
        }
        return render(request, "terminal/maintenance_confirm.html", context, status=status)

    view.__doc__ = doc
    return view


machine_unlock = _maintenance_view("unlock", services.machine_unlock, "Unlock the controller after an alarm.")
machine_home = _maintenance_view("home", services.machine_home, "Home the controller after an alarm.")


@require_POST
@page_for("terminal")
def machine_override(request, pk: int):
    """One touch: a feed, spindle or rapid override for the job running on the machine."""
    machine = get_object_or_404(Machine, pk=pk)
    kind, change = request.POST.get("kind", ""), request.POST.get("change", "")
    shown = "100" if change == "reset" else change
    done = f"{kind.capitalize()} {shown} % sent to {machine}."

    def call():
        return services.machine_override(request.user, machine=machine, kind=kind, change=change)

    return _tile_action(request, machine, call, done)


@page_for("terminal")
def machine_controller(request, pk: int):
    """The live controller panel of a machine's page: the fault in words, the last unlock or homing."""
    machine = get_object_or_404(Machine, pk=pk)
    context = {"machine": machine, "controller": selectors.machine_controller_card(machine)}
    return render(request, "terminal/_controller.html", context)
