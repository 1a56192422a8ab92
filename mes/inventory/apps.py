from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "mes.inventory"
    label = "inventory"
