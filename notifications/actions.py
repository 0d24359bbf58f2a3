"""export_customer_data: the recovery action behind the Cybernance termination scenario ("may request a data
file containing the most current information associated with their accounts"). It requests the customer's
export (notifications.exports, built by its own job) and follows it until the file is ready.

Registered in the engine's action registry by NotificationsConfig.ready, so the cloud layer never imports
this app."""

from __future__ import annotations

from drportal.cloud.actions.base import Outcome, StepContext, register
from drportal.cloud.actions.common import bad_input, param
from drportal.cloud.adapters.errors import AdapterError

NAME = "export_customer_data"

# The run an export step is part of is the runbook engine's, a layer above: it registers a lookup here
# (scenarios.apps), incident id -> (started_at, started_by) of the incident's run, or None when it has none.
RUN_OF_INCIDENT: list = []


def register_run_of_incident(lookup) -> None:
    if lookup not in RUN_OF_INCIDENT:
        RUN_OF_INCIDENT.append(lookup)


def _customer(ctx: StepContext):
    from drportal.inventory.models import Customer

    slug = param(ctx, "customer", required=True)
    customer = Customer.objects.filter(slug=slug).first()
    if customer is None:
        raise bad_input("params.customer", f"no customer {slug!r}")
    return customer


class ExportCustomerData:
    name = NAME
    title = "Build a customer's data file"

    def plan(self, ctx: StepContext) -> list[str]:
        customer = _customer(ctx)
        return [f"Request the data file of {customer.name}: what drportal holds about it and its databases from "
                "their newest viable backups; wait until it is ready to download."]

    def execute(self, ctx: StepContext) -> Outcome:
        from notifications import exports
        from notifications.choices import ExportState
        from notifications.models import CustomerExport

        customer = _customer(ctx)
        export = CustomerExport.objects.filter(pk=ctx.state["export"]).first() if "export" in ctx.state else None
        if export is None:
            run = RUN_OF_INCIDENT[0](ctx.incident_id) if RUN_OF_INCIDENT else None
            if run is None:
                raise bad_input("incident", "the export step needs the run of its incident")
            started_at, started_by = run
            # Any export of this customer requested since the run began is this step's (a retry after a crash
            # before ctx.state was saved, or a person who clicked Export meanwhile): never a second one.
            export = (CustomerExport.objects.filter(customer=customer, requested_at__gte=started_at)
                      .order_by("-requested_at").first())
            if export is None:
                export = exports.request_export(started_by, customer)
                ctx.say(f"requested export #{export.pk} of {customer.name}")
        ctx.state["export"] = export.pk
        if export.state == ExportState.FAILED:
            raise AdapterError(f"export #{export.pk} failed: {export.error[:300]}", permanent=True, code="ExportFailed")
        if export.state != ExportState.READY:
            return Outcome(done=False, poll_after=float(param(ctx, "poll_s", 5)),
                           output={"export": export.pk, "state": export.state})
        ctx.say(f"export #{export.pk} is ready ({export.size_bytes} bytes)")
        return Outcome(done=True, output={"export": export.pk, "customer": customer.slug,
                                          "size_bytes": export.size_bytes, "sha256": export.sha256,
                                          "databases": len(export.manifest.get("databases", []))})


action = register(ExportCustomerData())
