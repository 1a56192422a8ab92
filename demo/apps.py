from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo shop's seed data and demo equipment commands (no models)."""

    name = "demo"
    verbose_name = "Demo shop"
