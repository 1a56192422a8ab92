"""A real Celery worker process for integration tests, on the same database and broker as the test."""

import os
import subprocess
import sys
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def database_url_for_test_db() -> str:
    """A DATABASE_URL that points a child process at the database this test is using."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


@contextmanager
def celery_worker(queues: list[str], *, ready_timeout: float = 60.0, extra_env: dict | None = None):
    """Start ``celery worker`` consuming ``queues``; yield once it says it is ready; stop it after.

    The worker's output is kept in ``worker.output`` (a list of lines) for assertions and diagnosis.
    """
    name = f"test-{uuid.uuid4().hex[:8]}@%h"
    env = {**os.environ, "DATABASE_URL": database_url_for_test_db(), **(extra_env or {})}
    cmd = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "mes",
        "worker",
        "-Q",
        ",".join(queues),
        "-c",
        "1",
        "-P",
        "solo",
        "-n",
        name,
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        "INFO",
    ]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    ready = threading.Event()
    output: list[str] = []

    def pump() -> None:
        for line in proc.stdout:
            output.append(line)
            if " ready." in line:
                ready.set()
        ready.set()  # the process ended: stop waiting

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        if not ready.wait(ready_timeout) or proc.poll() is not None:
            raise RuntimeError("worker did not start:\n" + "".join(output[-40:]))
        proc.output = output
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)


def wait_until(predicate, *, timeout: float = 30.0, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` passes; return its last value."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
