"""Whether the database and the broker this installation uses answer (for the health page).

This sits with the views, above the apps: it asks the Celery application itself for a connection.
"""

from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import connection

from mes.celery import app


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
