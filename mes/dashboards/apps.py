from django.apps import AppConfig


class DashboardsConfig(AppConfig):
    name = "mes.dashboards"
    label = "dashboards"
    verbose_name = "Dashboards"
