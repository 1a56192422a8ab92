"""What every server-rendered page shares: role checks, and a service's refusal turned into plain words.

Views stay thin: they parse a form, call one service through :func:`attempt`, and render. A refusal
(:class:`~mes.core.errors.DomainError`) becomes an error next to the field that caused it, or next to the
action when no field did; nothing is half-done because every service is one transaction.
"""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from mes.core.errors import DomainError
from mes.core.roles import PAGES, may_open


def page_for(area: str):
    """Decorate a view of the page area ``area``: log-in required, and a plain 403 page for other roles."""
    if area not in PAGES:
        raise KeyError(f"unknown page area {area!r}: add it to mes.core.roles.PAGES")

    def decorate(view):
        @wraps(view)
        @login_required
        def guarded(request, *args, **kwargs):
            if not may_open(request.user, area):
                allowed = ", ".join(sorted(role.value for role in PAGES[area]))
                context = {"message": f"This page is for {allowed}. Your account does not hold that role."}
                return render(request, "403.html", context, status=403)
            return view(request, *args, **kwargs)

        return guarded

    return decorate


def attempt(call: Callable[[], object], form=None) -> tuple[bool, str]:
    """Call a service; on refusal put its message on ``form`` (by field when the form has that field).

    Returns ``(succeeded, message)``: the message is empty on success, else the refusal in plain words, so
    a view without a form can show it next to the button that was pressed.
    """
    try:
        call()
    except DomainError as refusal:
        if form is not None:
            field = refusal.field if refusal.field in form.fields else None
            form.add_error(field, refusal.message)
        return False, refusal.message
    return True, ""


def status_for(succeeded: bool) -> int:
    """HTTP status for a form post: 200 when done, 422 when refused (htmx still swaps 422 in, see base)."""
    return 200 if succeeded else 422
