"""Shared tables: sequences for human-readable serial numbers."""

from django.db import models


class Sequence(models.Model):
    """A named counter, incremented under a row lock so two transactions never draw the same value."""

    name = models.CharField(max_length=60, unique=True)
    last_value = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.last_value}"


class WorkerHeartbeat(models.Model):
    """The last time a Celery worker answered on a queue: the health page shows which workers live."""

    worker = models.CharField(max_length=200, unique=True)
    queue = models.CharField(max_length=100)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.worker} on {self.queue} at {self.seen_at:%H:%M:%S}"
