from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "mes.core"
    label = "core"
