from django.apps import AppConfig


class OpsApiConfig(AppConfig):
    """The operations API: incidents opened by monitoring alerts (Alertmanager), and the incident and run API
    for people's tools. Its tokens act as a user, or as a role through a service user of their own."""

    name = "drportal.opsapi"
    label = "opsapi"

    def ready(self) -> None:
        from drportal.opsapi import openapi

        openapi.register()
