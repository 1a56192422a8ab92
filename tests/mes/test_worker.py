"""A real worker process consumes from the configured broker and writes to the test database."""

import uuid

import pytest

from mes.core.models import WorkerHeartbeat
from mes.core.tasks import worker_heartbeat
from tests.support.worker import celery_worker, wait_until

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


def test_a_task_sent_through_the_broker_runs_in_a_worker_process():
    queue = f"test.{uuid.uuid4().hex[:8]}"
    with celery_worker([queue]) as worker:
        # The worker announces itself on start (worker_ready) ...
        assert wait_until(lambda: WorkerHeartbeat.objects.filter(queue=queue).exists())
        WorkerHeartbeat.objects.all().delete()
        # ... and a message through the broker reaches it and it writes to our database.
        worker_heartbeat.apply_async(kwargs={"queue": "via-broker"}, queue=queue)
        assert wait_until(lambda: WorkerHeartbeat.objects.filter(queue="via-broker").exists()), "".join(
            worker.output[-30:]
        )
