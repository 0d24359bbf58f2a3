from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "drportal.incidents"
    label = "incidents"

    def ready(self) -> None:
        from django.db.models.signals import m2m_changed

        from drportal.incidents import models, signals

        for name in ("regions", "zones", "servers", "offices", "services", "assets"):
            through = getattr(models.Incident, f"impacted_{name}").through
            m2m_changed.connect(signals.relations_changed, sender=through,
                                dispatch_uid=f"incident-scope-{name}")
