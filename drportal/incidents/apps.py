from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "drportal.incidents"
    label = "incidents"
