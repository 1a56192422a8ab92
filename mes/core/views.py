"""Pages every role shares: the health page and the home page."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render

from mes.core import health as checks
from mes.core import selectors
from mes.core.roles import may_open, user_roles


def health(request):
    """What database and broker this installation uses, and whether they answer (no login needed)."""
    report = {"database": checks.database_health(), "broker": checks.broker_health()}
    report["ok"] = report["database"]["ok"] and report["broker"]["ok"]
    alive_s = settings.MES_WORKER_ALIVE_S
    report["workers"] = selectors.workers_seen(alive_s=alive_s) if report["database"]["ok"] else []
    code = 200 if report["ok"] else 503
    if request.GET.get("format") == "json" or "json" in request.headers.get("Accept", ""):
        return JsonResponse(report, status=code)
    return render(request, "core/health.html", {"report": report}, status=code)


AREAS = [
    # (area, url name, title, what it is for)
    ("terminal", "terminal:home", "Shop terminal", "Machines, queues, start, pause, E-STOP, part removal."),
    ("tickets", "repairs:tickets", "Damage tickets", "File tickets, request and follow parts, resolve."),
    ("inspection", "inspection:queue", "Inspection", "Parts the cameras rejected or could not inspect."),
    ("stock", "inventory:stock", "Stock and traceability", "Stock by part, status, location; every serial."),
    ("dashboards", "dashboards:home", "Dashboards", "OEE, throughput, yield, tickets, feedstock, control."),
]


@login_required
def home(request):
    """A person's start page: straight to their area when they have one, else a card per area they open."""
    areas = [area for area in AREAS if may_open(request.user, area[0])]
    if len(areas) == 1:
        return redirect(areas[0][1])
    roles = sorted(role.value for role in user_roles(request.user))
    return render(request, "core/home.html", {"roles": roles, "areas": areas})
