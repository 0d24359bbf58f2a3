from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self) -> None:
        import notifications.actions  # noqa: F401 (registers export_customer_data with the runbook engine)
        from drportal.incidents.services import incident_declared

        incident_declared.connect(_page_on_declare, dispatch_uid="notifications.page_on_declare")
        try:
            from backups.scheduler import register_task
            from backups.sweep import after_sweep
        except ImportError:
            return
        from notifications.backup_alerts import send_alerts

        # Ops are paged about the backups a sweep found turned bad.
        after_sweep(send_alerts)
        # Picks up sends whose job died with its worker (see jobs.resume_pending).
        register_task("notifications.resume", "* * * * *", "notifications.jobs.resume_pending")


def _page_on_declare(sender, incident_id: int, **kwargs) -> None:
    from notifications.staff import on_incident_declared

    on_incident_declared(incident_id)
