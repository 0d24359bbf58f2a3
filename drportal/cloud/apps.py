from django.apps import AppConfig


class CloudConfig(AppConfig):
    name = "drportal.cloud"
    label = "cloud"

    def ready(self) -> None:
        # Importing the action modules fills drportal.cloud.actions.base.REGISTRY for the runbook engine.
        from drportal.cloud.actions import load_all

        load_all()

        from drportal.lib.tasks import register_task

        # Readiness reads the stored answers; the scheduler keeps them fresh.
        register_task("cloud.check_connections", "*/15 * * * *", "drportal.cloud.connection.check_all")
