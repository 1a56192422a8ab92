"""Reads about the running installation: which database and broker it uses, and whether they answer."""

from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import connection


def _mask_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def database_health() -> dict:
    """Vendor, name and reachability of the default database."""
    db = settings.DATABASES["default"]
    info = {"vendor": connection.vendor, "name": str(db.get("NAME")), "host": db.get("HOST") or ""}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        info["ok"], info["error"] = True, ""
    except Exception as exc:  # any driver error means "not reachable": report it, don't crash
        info["ok"], info["error"] = False, str(exc)
    return info


def broker_health(timeout: float = 2.0) -> dict:
    """Transport, URL (password masked) and reachability of the Celery broker."""
    from mes.celery import app

    url = settings.CELERY_BROKER_URL
    info = {"transport": url.split("://", 1)[0], "url": _mask_password(url)}
    if info["transport"] == "filesystem":
        info["url"] = f"filesystem://{settings.CELERY_BROKER_DIR}"
    try:
        with app.connection_for_write(url) as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
        info["ok"], info["error"] = True, ""
    except Exception as exc:  # unreachable broker: report it on the page
        info["ok"], info["error"] = False, str(exc)
    return info


def workers_seen(limit: int = 20) -> list[dict]:
    """Workers that recorded a heartbeat, newest first."""
    from mes.core.models import WorkerHeartbeat

    return list(WorkerHeartbeat.objects.order_by("-seen_at").values("worker", "queue", "seen_at")[:limit])
