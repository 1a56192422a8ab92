"""Roles and the permission matrix: which role may call which service.

A role is a Django group. People hold one or more of machinist, engineer, inspector and supervisor; a camera
station is a user in the ``station`` group that has no password and authenticates with an API token only.
Every service calls :func:`authorize` with its own name first, so the matrix below is the single place that
says who may do what (the permission matrix test walks it).
"""

from enum import StrEnum

from mes.core.errors import NotPermitted


class Role(StrEnum):
    MACHINIST = "machinist"
    ENGINEER = "engineer"
    INSPECTOR = "inspector"
    SUPERVISOR = "supervisor"
    STATION = "station"


M, E, INS, S, C = Role.MACHINIST, Role.ENGINEER, Role.INSPECTOR, Role.SUPERVISOR, Role.STATION

# service name -> roles allowed to call it
PERMISSIONS: dict[str, frozenset[Role]] = {
    # catalogue
    "part_create": frozenset({E, S}),
    "part_revision_create": frozenset({E, S}),
    "part_revision_release": frozenset({S}),
    "program_create": frozenset({E, S}),
    "program_release": frozenset({S}),
    # repairs
    "ticket_file": frozenset({E, S}),
    "ticket_assign": frozenset({S}),
    "ticket_resolve": frozenset({E, S}),
    # The engineer who fixed the breach closes the ticket once the repair is signed off.
    "ticket_close": frozenset({E, S}),
    "part_request_create": frozenset({E, S}),
    "part_request_cancel": frozenset({E, S}),
    "part_request_issue": frozenset({E, S}),
    # production
    "work_order_dispatch": frozenset({S}),
    "feedstock_lot_receive": frozenset({M, S}),
    "job_start": frozenset({M, S}),
    "job_pause": frozenset({M, S}),
    "job_resume": frozenset({M, S}),
    "job_cancel": frozenset({M, S}),
    "job_finish": frozenset({M, S}),
    "job_fail": frozenset({M, S}),
    "machine_clear_error": frozenset({M, S}),
    "machine_lot_load": frozenset({M, S}),
    # Controller commands from the terminal: unlock ($X) and home ($H) after an alarm, overrides in a job.
    "machine_unlock": frozenset({M, S}),
    "machine_home": frozenset({M, S}),
    "machine_override": frozenset({M, S}),
    # Anyone at a terminal may stop a machine; only a machinist or supervisor clears it again.
    "machine_emergency_stop": frozenset({M, E, INS, S}),
    # inventory and inspection
    "stock_item_receive": frozenset({S}),
    "inspection_record": frozenset({INS, S, C}),
    "inspection_override": frozenset({INS, S}),
    "nonconformance_dispose": frozenset({INS, S}),
    # the inspection page's one decision button: accept, reject, rework or scrap a queued part
    "stock_item_decide": frozenset({INS, S}),
    # camera stations: a station may only act for itself (the services check which station)
    "station_configure": frozenset({S}),
    "station_calibrate": frozenset({S, C}),
    "inspection_request": frozenset({INS, S, C}),
}

ACTION_WORDS = {name: name.replace("_", " ") for name in PERMISSIONS}

# page area -> roles that may open it (the navigation shows each person only their own areas)
PAGES: dict[str, frozenset[Role]] = {
    "terminal": frozenset({M, S}),
    "tickets": frozenset({E, S}),
    "inspection": frozenset({INS, S}),
    "stock": frozenset({M, E, INS, S}),
    "dashboards": frozenset({M, E, INS, S}),
}


def user_roles(user) -> frozenset[Role]:
    """The roles ``user`` holds; an active superuser holds every person role (never ``station``)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return frozenset()
    cached = getattr(user, "_mes_roles", None)
    if cached is not None:
        return cached
    names = set(user.groups.values_list("name", flat=True))
    roles = {role for role in Role if role.value in names}
    if user.is_superuser:
        roles |= {M, E, INS, S}
    user._mes_roles = frozenset(roles)
    return user._mes_roles


def may(user, action: str) -> bool:
    """Whether ``user`` may call the service named ``action``."""
    return bool(user_roles(user) & PERMISSIONS[action])


def may_open(user, page: str) -> bool:
    """Whether ``user`` may open the pages of the area named ``page`` (see :data:`PAGES`)."""
    return bool(user_roles(user) & PAGES[page])


def authorize(user, action: str) -> None:
    """Raise :class:`NotPermitted` unless ``user`` may call the service named ``action``."""
    if action not in PERMISSIONS:
        raise KeyError(f"unknown action {action!r}: add it to PERMISSIONS")
    if not may(user, action):
        allowed = ", ".join(sorted(role.value for role in PERMISSIONS[action]))
        raise NotPermitted(f"Only {allowed} may {ACTION_WORDS[action]}.", code="not_permitted")
