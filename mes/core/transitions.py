"""Explicit state transitions and actions: tables per model, functions that apply and check them.

A transition table maps each state to the states it may move to; an action table says, for each thing a
person may do (resume, clear an error...), the states it may be done from. Both are checked: the first
keeps the data consistent, the second keeps an action from borrowing another's transition (resuming a
queued job would otherwise pass as QUEUED -> RUNNING, the transition of a start, without its interlocks).

:func:`transition` refuses a move its table does not allow with an :class:`IllegalTransition` that
names the entity, both states and what would have been allowed, and stamps the change reason that
django-simple-history stores with the audited row (who and when come from the actor).
"""

from collections.abc import Mapping
from dataclasses import dataclass

from django.db import models
from django.utils import timezone

from mes.core.errors import IllegalTransition

TransitionTable = dict[str, frozenset[str]]

# django-simple-history's change-reason column; longer texts (a job's outcome) live in the record itself.
CHANGE_REASON_MAX = 100


def change_reason(text: str) -> str:
    """``text`` cut to the history column's width, marked with an ellipsis when cut."""
    return text if len(text) <= CHANGE_REASON_MAX else text[: CHANGE_REASON_MAX - 1] + "…"


@dataclass(frozen=True)
class Action:
    """Something a person may do to an entity, and the states it may be done from."""

    #: How refusals name the action done ("resumed", "cleared").
    done: str
    allowed_from: frozenset[str]


ActionTable = dict[str, Action]


def _spoken(state: str, say: Mapping[str, str]) -> str:
    return say.get(state, state.replace("_", " "))


def check_action(
    table: ActionTable, action: str, *, label: str, current: str, say: Mapping[str, str] | None = None
) -> None:
    """Raise :class:`IllegalTransition` unless ``action`` may be done to ``label`` in state ``current``.

    ``say`` words states that do not read well after "it is" ({"error": "in error"}). The message says
    what the entity is and what the action needs, e.g. "Job J-00007 cannot be resumed while it is
    queued: it must be paused."
    """
    rule = table[action]
    if current in rule.allowed_from:
        return
    say = say or {}
    wanted = " or ".join(_spoken(state, say) for state in sorted(rule.allowed_from))
    raise IllegalTransition(
        f"{label} cannot be {rule.done} while it is {_spoken(current, say)}: it must be {wanted}.",
        code="illegal_transition",
    )


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
