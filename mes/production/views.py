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


def _estop_reply(request, *, done: bool, message: str):
    if request.htmx:
        context = {"done": done, "message": message}
        return render(request, "production/_estop_result.html", context, status=200 if done else 403)
    return _back(request)


@require_POST
@login_required
def estop_all(request):
    """The red button on every screen: stop every machine that could move, at once, no questions asked."""
    stopped: list[Machine] = []
    done, refusal = attempt(lambda: stopped.extend(services.machines_emergency_stop_all(request.user)))
    names = ", ".join(m.name for m in stopped) or "no machine was running"
    return _estop_reply(request, done=done, message=f"E-STOP sent: {names}." if done else refusal)


@require_POST
@login_required
def estop_machine(request, pk: int):
    """E-STOP one machine (the button on its tile)."""
    machine = get_object_or_404(Machine, pk=pk)
    done, refusal = attempt(lambda: services.machine_emergency_stop(request.user, machine=machine))
    return _estop_reply(request, done=done, message=f"E-STOP sent to {machine}." if done else refusal)
