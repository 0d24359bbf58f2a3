from django.apps import AppConfig


class CloudConfig(AppConfig):
    name = "drportal.cloud"
    label = "cloud"

    def ready(self) -> None:
        # Importing the action modules fills drportal.cloud.actions.base.REGISTRY for the runbook engine.
        from drportal.cloud.actions import load_all

        load_all()
