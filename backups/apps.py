from django.apps import AppConfig


class BackupsConfig(AppConfig):
    name = "backups"

    def ready(self) -> None:
        from backups import cloud_catalogue, inventory_section, openapi
        from backups.actions import offsite, repository  # noqa: F401 (register their recovery actions)

        inventory_section.register()
        cloud_catalogue.register()
        from backups.scheduler import register_task

        # Subscribed compliance reports; each period's row is written once, so any tick may find it due.
        register_task("reports.compliance", "*/5 * * * *", "backups.report_mail.send_due")
        openapi.register()
