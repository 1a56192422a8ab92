"""Explicit state transitions: one table per model, one function that applies them.

A table maps each state to the states it may move to. :func:`transition` refuses anything else with an
:class:`IllegalTransition` that names the entity, both states and what would have been allowed, and stamps the
change reason that django-simple-history stores with the audited row (who and when come from the actor).
"""

from django.db import models
from django.utils import timezone

from mes.core.errors import IllegalTransition

TransitionTable = dict[str, frozenset[str]]

# django-simple-history's change-reason column; longer texts (a job's outcome) live in the record itself.
CHANGE_REASON_MAX = 100


def change_reason(text: str) -> str:
    """``text`` cut to the history column's width, marked with an ellipsis when cut."""
    return text if len(text) <= CHANGE_REASON_MAX else text[: CHANGE_REASON_MAX - 1] + "…"


def check_transition(table: TransitionTable, label: str, current: str, target: str) -> None:
    """Raise :class:`IllegalTransition` unless ``table`` allows ``current`` -> ``target``."""
    allowed = table.get(current, frozenset())
    if target not in allowed:
        options = ", ".join(sorted(allowed)) or "nothing (final state)"
        raise IllegalTransition(
            f"{label} cannot go from {current.replace('_', ' ')} to {target.replace('_', ' ')}; "
            f"from {current.replace('_', ' ')} it may go to {options.replace('_', ' ')}.",
            code="illegal_transition",
        )


def transition(
    obj: models.Model,
    target: str,
    *,
    actor=None,
    table: TransitionTable,
    field: str = "status",
    reason: str = "",
    stamp: str | None = None,
    also: dict | None = None,
) -> None:
    """Move ``obj.<field>`` to ``target`` if ``table`` allows it, and save with an audit reason.

    ``also`` sets other fields in the same UPDATE (fields whose values the database constrains together
    with the state); ``stamp`` names a datetime field set to now. The caller holds the transaction (and,
    where races matter, a row lock on ``obj``).
    """
    current = getattr(obj, field)
    check_transition(table, str(obj), current, target)
    setattr(obj, field, target)
    update_fields = [field]
    for name, value in (also or {}).items():
        setattr(obj, name, value)
        update_fields.append(name)
    if stamp:
        setattr(obj, stamp, timezone.now())
        update_fields.append(stamp)
    if hasattr(obj, "status_changed_at") and "status_changed_at" not in update_fields:
        obj.status_changed_at = timezone.now()
        update_fields.append("status_changed_at")
    obj._change_reason = change_reason(f"{current} -> {target}" + (f": {reason}" if reason else ""))
    if actor is not None and getattr(actor, "is_authenticated", False):
        obj._history_user = actor
    obj.save(update_fields=update_fields)


def audited_save(obj: models.Model, *, actor=None, reason: str = "", **kwargs) -> None:
    """Save ``obj`` with a history record naming ``actor`` and ``reason``."""
    obj._change_reason = change_reason(reason)
    if actor is not None and getattr(actor, "is_authenticated", False):
        obj._history_user = actor
    obj.save(**kwargs)
