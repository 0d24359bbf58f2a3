from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "drportal.inventory"
    label = "inventory"

    def ready(self) -> None:
        from drportal.inventory import sections

        sections.register()
