from django.apps import AppConfig


class BackupsConfig(AppConfig):
    name = "backups"

    def ready(self) -> None:
        from backups import inventory_section

        inventory_section.register()
