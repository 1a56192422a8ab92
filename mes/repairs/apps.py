from django.apps import AppConfig


class RepairsConfig(AppConfig):
    name = "mes.repairs"
    label = "repairs"
