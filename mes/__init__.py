"""The fabrication-shop MES: Django project package and the shop's domain apps."""

from mes.celery import app as celery_app

__all__ = ["celery_app"]
