"""Production pages: the E-STOP (reachable from every screen) and the shop terminal."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from mes.production import services
from mes.production.models import Machine
from mes.web import attempt


def _back(request):
    target = request.POST.get("next") or request.headers.get("Referer") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    return redirect(target)


def _estop_reply(request, *, reports: list, refusal: str = ""):
    """Per machine, whether its stop reached the controller; 200 only if every stop did (and something was
    asked), 503 if any could not be confirmed, 403 if the person may not press it."""
    if refusal:
        status = 403
    elif any(not report.delivered for report in reports):
        status = 503
    else:
        status = 200
    if request.htmx:
        context = {"reports": reports, "refusal": refusal, "nothing": not reports and not refusal}
        return render(request, "production/_estop_result.html", context, status=status)
    return _back(request)


@require_POST
@login_required
def estop_all(request):
    """The red button on every screen: stop every machine that could move, at once, no questions asked."""
    reports: list = []
    _, refusal = attempt(lambda: reports.extend(services.machines_emergency_stop_all(request.user)))
    return _estop_reply(request, reports=reports, refusal=refusal)


@require_POST
@login_required
def estop_machine(request, pk: int):
    """E-STOP one machine (the button on its tile)."""
    machine = get_object_or_404(Machine, pk=pk)
    reports: list = []

    def stop():
        reports.append(services.machine_emergency_stop(request.user, machine=machine))

    _, refusal = attempt(stop)
    return _estop_reply(request, reports=reports, refusal=refusal)
