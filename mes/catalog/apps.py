from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "mes.catalog"
    label = "catalog"
