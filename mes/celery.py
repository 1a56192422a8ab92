"""The Celery application: configuration from Django settings, task routes by queue.

The queue names are in :mod:`mes.core.queues`. This module is the top of the stack (it loads Django's settings
and discovers every app's tasks), so nothing in the apps imports it.
"""

import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mes.settings")

app = Celery("mes")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _record_worker_start(sender=None, **kwargs) -> None:
    """Tell the health page which worker came up on which queues, and keep telling it while it lives."""
    from mes.core.heartbeats import keep_beating

    keep_beating(sender.hostname, [q.name for q in sender.app.amqp.queues.consume_from.values()])
