from django.apps import AppConfig


class ProductionConfig(AppConfig):
    name = "mes.production"
    label = "production"
