from django.apps import AppConfig


class ScenariosConfig(AppConfig):
    name = "scenarios"

    def ready(self) -> None:
        # The simulated action must be in the registry in every process (web, workers, tests).
        from drportal.incidents.scope import scope_changed
        from scenarios import simulated  # noqa: F401

        scope_changed.connect(_widen_run, dispatch_uid="scenarios-widen-run")

        try:
            from backups.scheduler import register_task
        except ImportError:
            return
        # The reconciler every minute (dead workers, jobs a restarted Redis lost, waits whose poller is gone);
        # `manage.py scenarios_reconcile --loop 15` runs it more often where that matters.
        register_task("scenarios.reconcile", "* * * * *", "scenarios.jobs.reconcile")


def _widen_run(sender, incident_id: int, actor, **kwargs) -> None:
    from scenarios import engine

    engine.widen(incident_id, actor)
