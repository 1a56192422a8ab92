"""REST plumbing shared by every API view: errors as JSON, role-based access."""

from django.core.exceptions import ObjectDoesNotExist
from django.db import IntegrityError
from rest_framework import exceptions, permissions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from mes.core.errors import DomainError
from mes.core.roles import Role, user_roles

PERSON_ROLES = frozenset({Role.MACHINIST, Role.ENGINEER, Role.INSPECTOR, Role.SUPERVISOR})


def _first_field_error(detail, prefix: str = "") -> tuple[str | None, str]:
    """The first (field, message) in a DRF validation error's nested detail."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            field = key if key != "non_field_errors" else None
            sub_field, message = _first_field_error(value, f"{prefix}{key}.")
            return (f"{prefix}{key}" if field and sub_field is None else sub_field or field), message
    if isinstance(detail, list) and detail:
        return _first_field_error(detail[0], prefix)
    return None, str(detail)


def error_body(code: str, message: str, field: str | None, **extra) -> dict:
    return {"error": {"code": code, "message": message, "field": field, **extra}}


def exception_handler(exc, context):
    """Answer every error as ``{"error": {"code", "message", "field"}}`` with a fitting status."""
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.message, exc.field), status=exc.status)
    if isinstance(exc, IntegrityError):
        # A rule the database enforces (one active job per machine...) caught a race the services' locks
        # did not: the request changed nothing, and trying again sees the winner's state.
        set_rollback()
        message = "Another change to the same records got there first; nothing was changed. Reload and retry."
        return Response(error_body("conflict", message, None), status=status.HTTP_409_CONFLICT)
    if isinstance(exc, ObjectDoesNotExist):
        return Response(error_body("not_found", "No such record.", None), status=status.HTTP_404_NOT_FOUND)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        field, message = _first_field_error(exc.detail)
        text = f"{field}: {message}" if field else message
        response.data = error_body("invalid", text, field, fields=exc.detail)
    else:
        code = getattr(exc, "default_code", "error")
        response.data = error_body(code, str(getattr(exc, "detail", exc)), None)
    return response


class IsPerson(permissions.BasePermission):
    """People only: a camera station's token opens nothing but its station's endpoints."""

    message = "This endpoint is for people; station tokens may only post inspections."

    def has_permission(self, request, view) -> bool:
        return bool(user_roles(request.user) & PERSON_ROLES)


class IsInspectorOrStation(permissions.BasePermission):
    message = "Only inspectors, supervisors and camera stations may record inspections."

    def has_permission(self, request, view) -> bool:
        return bool(user_roles(request.user) & {Role.INSPECTOR, Role.SUPERVISOR, Role.STATION})
