"""Settings come from the environment; the health page says what the installation uses."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PRINT_SETTINGS = """
import django, json
django.setup()
from django.conf import settings as s
db = s.DATABASES["default"]
options = getattr(s, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
print(json.dumps({
    "engine": db["ENGINE"], "name": str(db["NAME"]), "host": db.get("HOST"),
    "broker": s.CELERY_BROKER_URL, "broker_dir": options.get("data_folder_in"), "debug": s.DEBUG,
    "hosts": s.ALLOWED_HOSTS, "media": str(s.MEDIA_ROOT), "key": s.SECRET_KEY,
    "cache": s.CACHES["default"]["BACKEND"], "cache_at": s.CACHES["default"].get("LOCATION"),
}))
"""


def settings_with(env: dict, tmp_path) -> dict:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DATABASE_URL",
            "CELERY_BROKER_URL",
            "CACHE_URL",
            "SECRET_KEY",
            "DEBUG",
            "ALLOWED_HOSTS",
            "MEDIA_ROOT",
        }
    }
    clean.update({"DJANGO_SETTINGS_MODULE": "mes.settings", "MES_VAR_DIR": str(tmp_path / "var"), **env})
    out = subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def test_embedded_defaults_are_sqlite_and_the_filesystem_broker_under_var(tmp_path):
    s = settings_with({}, tmp_path)
    assert s["engine"] == "django.db.backends.sqlite3"
    assert s["name"] == str(tmp_path / "var" / "mes.sqlite3")
    assert s["broker"] == "filesystem://"
    assert s["broker_dir"] == str(tmp_path / "var" / "broker" / "queue")
    assert s["cache"] == "django.core.cache.backends.locmem.LocMemCache"


def test_servers_are_selected_by_environment_variables(tmp_path):
    s = settings_with(
        {
            "DATABASE_URL": "postgres://shop:pw@db.shop.local:5432/mes",
            "CELERY_BROKER_URL": "redis://broker.shop.local:6379/0",
            "CACHE_URL": "redis://broker.shop.local:6379/1",
            "SECRET_KEY": "k" * 50,
            "DEBUG": "false",
            "ALLOWED_HOSTS": "mes.shop.local",
            "MEDIA_ROOT": "/srv/mes/media",
        },
        tmp_path,
    )
    assert s["engine"] == "django.db.backends.postgresql"
    assert (s["name"], s["host"]) == ("mes", "db.shop.local")
    assert s["broker"] == "redis://broker.shop.local:6379/0"
    assert (s["cache"], s["cache_at"]) == (
        "django.core.cache.backends.redis.RedisCache",
        "redis://broker.shop.local:6379/1",
    )
    assert (s["debug"], s["hosts"], s["media"], s["key"]) == (
        False,
        ["mes.shop.local"],
        "/srv/mes/media",
        "k" * 50,
    )
    rabbit = settings_with({"CELERY_BROKER_URL": "amqp://guest:guest@rabbit:5672//"}, tmp_path)
    assert rabbit["broker"].startswith("amqp://")


def test_a_cache_url_that_is_not_redis_is_refused_by_name(tmp_path):
    with pytest.raises(subprocess.CalledProcessError) as failed:
        settings_with({"CACHE_URL": "memcached://cache:11211"}, tmp_path)
    assert "CACHE_URL must be a redis:// URL" in failed.value.stderr


@pytest.mark.django_db
def test_health_page_reports_database_and_broker(client, settings):
    response = client.get("/health/?format=json")
    report = response.json()
    from django.db import connection

    assert report["database"]["vendor"] == connection.vendor and report["database"]["ok"]
    assert report["broker"]["transport"] == settings.CELERY_BROKER_URL.split("://")[0]
    assert report["broker"]["ok"], report["broker"]
    assert response.status_code == 200
    page = client.get("/health/").content.decode()
    assert connection.vendor in page and "Broker" in page


@pytest.mark.django_db
def test_health_page_says_when_the_broker_is_down(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/health/?format=json")
    assert response.status_code == 503
    assert response.json()["broker"]["ok"] is False


def test_a_test_run_queues_its_tasks_in_a_broker_folder_of_its_own(settings):
    """Messages a test leaves behind must never reach the installation's workers (mes/test_settings.py)."""
    if not settings.CELERY_BROKER_URL.startswith("filesystem://"):
        pytest.skip("server brokers are chosen by whoever runs the tests (CI: a Redis database of its own)")
    from mes.celery import app

    shop_queue = Path(settings.VAR_DIR) / "broker" / "queue"
    test_queue = Path(os.environ["MES_TEST_BROKER_DIR"]) / "queue"
    assert Path(app.conf.broker_transport_options["data_folder_out"]) == test_queue
    shop_before = set(shop_queue.glob("*")) if shop_queue.exists() else set()
    test_before = set(test_queue.glob("*"))
    app.send_task("mes.no_such_task", queue="isolation-check")
    written = set(test_queue.glob("*")) - test_before
    assert len(written) == 1 and "isolation-check" in written.pop().read_text()
    assert (set(shop_queue.glob("*")) if shop_queue.exists() else set()) == shop_before


@pytest.mark.django_db
def test_health_page_tells_a_live_worker_from_a_silent_one(client, settings):
    from datetime import timedelta

    from django.utils import timezone

    from mes.core.models import WorkerHeartbeat

    now = timezone.now()
    WorkerHeartbeat.objects.create(worker="mill-1@host", queue="machine.1", seen_at=now)
    silent = now - timedelta(seconds=settings.MES_WORKER_ALIVE_S + 30)
    WorkerHeartbeat.objects.create(worker="mill-2@host", queue="machine.2", seen_at=silent)

    workers = {w["worker"]: w for w in client.get("/health/?format=json").json()["workers"]}
    page = client.get("/health/").content.decode()

    assert workers["mill-1@host"]["alive"] is True and workers["mill-2@host"]["alive"] is False
    assert "silent for 3" in page and "stopped or dead" in page
