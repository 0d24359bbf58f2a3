from django.apps import AppConfig


class ScenariosConfig(AppConfig):
    name = "scenarios"

    def ready(self) -> None:
        # The simulated action must be in the registry in every process (web, workers, tests).
        from drportal.incidents.scope import scope_changed
        from scenarios import simulated  # noqa: F401

        scope_changed.connect(_widen_run, dispatch_uid="scenarios-widen-run")
        try:
            from notifications import facts
        except ImportError:
            pass
        else:
            from notifications.actions import register_run_of_incident
            from scenarios.notice_facts import restores, run_of_incident

            # Notices state only what the run's restore steps really did.
            facts.register(restores)
            # The customer export step asks for its run without importing this app.
            register_run_of_incident(run_of_incident)

        try:
            from notifications.losswindow import register_points_used
        except ImportError:
            pass
        else:
            from scenarios.recovery_points import points_used

            register_points_used(points_used)

        try:
            from backups.scheduler import register_task
        except ImportError:
            return
        # The reconciler every minute (dead workers, jobs a restarted Redis lost, waits whose poller is gone);
        # `manage.py scenarios_reconcile --loop 15` runs it more often where that matters.
        register_task("scenarios.reconcile", "* * * * *", "scenarios.jobs.reconcile")
        # Steps waiting for a person longer than their scenario allows page that person's role.
        register_task("scenarios.page_waiting", "* * * * *", "scenarios.waiting.page_waiting")


def _widen_run(sender, incident_id: int, actor, **kwargs) -> None:
    from scenarios import engine

    engine.widen(incident_id, actor)
