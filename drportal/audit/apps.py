from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "drportal.audit"
    label = "audit"
