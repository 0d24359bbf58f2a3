from django.apps import AppConfig


class BackupsConfig(AppConfig):
    name = "backups"

    def ready(self) -> None:
        from backups import inventory_section, openapi

        inventory_section.register()
        openapi.register()
