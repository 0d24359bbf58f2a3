from django.apps import AppConfig


class FrontConfig(AppConfig):
    name = "drportal.front"
    label = "front"
