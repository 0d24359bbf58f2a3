from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "drportal.inventory"
    label = "inventory"
