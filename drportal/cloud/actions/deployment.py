"""run_deployment: re-provision stateless servers from code by running the configured deployment
(a command or a webhook) and following it to success or failure without holding a worker."""

from __future__ import annotations

import shlex
from urllib.parse import urljoin

from drportal.audit import log as audit
from drportal.cloud.actions.base import Outcome, StepContext, register
from drportal.cloud.actions.common import (
    account_named,
    actor,
    bad_input,
    check_timeout,
    param,
    region_name,
    split_region,
)
from drportal.cloud.adapters import deploy, webhook
from drportal.cloud.adapters.errors import AdapterError
from drportal.cloud.models import Deployment
from drportal.lib import clock

NAME = "run_deployment"


class RunDeployment:
    name = NAME
    title = "Run the deployment that rebuilds stateless servers from code"

    def _spec(self, ctx: StepContext) -> tuple[str, str, list[str]]:
        self._check_region(ctx)
        command, url = param(ctx, "command"), param(ctx, "webhook")
        if not command and not url and param(ctx, "server"):
            # "Re-provision {server} from code": the deployment its inventory entry names.
            from drportal.inventory.models import Server

            meta = (Server.objects.filter(name=param(ctx, "server")).values_list("metadata", flat=True).first()
                    or {})
            command, url = meta.get("deploy_command"), meta.get("deploy_webhook")
            if ctx.drill:
                # A drill never runs the production deployment: only one the inventory names for drills.
                command, url = meta.get("drill_deploy_command"), None
                if not command:
                    raise AdapterError(f"a drill runs no production deployment: set metadata.drill_deploy_command "
                                       f"of {param(ctx, 'server')}", permanent=True, code="NoDrillDeployment")
            if not command and not url:
                raise bad_input("params.command", f"give a command or webhook, or set metadata.deploy_command "
                                                  f"of {param(ctx, 'server')}")
        if bool(command) == bool(url):
            raise bad_input("params.command", "give either a command or a webhook URL")
        if url:
            if not str(url).startswith(("http://", "https://")):
                raise bad_input("params.webhook", f"{url!r} is not an http(s) URL")
            return "webhook", str(url), []
        argv = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
        if not argv:
            raise bad_input("params.command", "is empty")
        # A command from the inventory may name the server and the target region it rebuilds.
        argv = [a.replace("{server}", str(param(ctx, "server", ""))).replace("{region}", region_name(ctx))
                .replace("{key}", ctx.idempotency_key) for a in argv]
        return "command", shlex.join(argv), argv

    @staticmethod
    def _check_region(ctx: StepContext) -> None:
        """A region of another provider than the server's ("rackspace/mci" for an AWS server) is refused before
        anything runs: told only "mci", the deployment would try to build the server where it cannot."""
        provider, name = split_region(param(ctx, "region"))
        if not provider or not param(ctx, "server"):
            return
        from drportal.inventory.models import Server

        own = (Server.objects.filter(name=param(ctx, "server")).values_list("account__provider__slug", flat=True)
               .first())
        if own and own != provider:
            raise bad_input("params.region", f"{provider}/{name} is a region of {provider}; "
                                             f"{param(ctx, 'server')} runs at {own}")

    def plan(self, ctx: StepContext) -> list[str]:
        kind, target, _ = self._spec(ctx)
        return [f"Run the deployment {kind} {target} and follow it until it succeeds or fails."]

    def execute(self, ctx: StepContext) -> Outcome:
        kind, target, argv = self._spec(ctx)
        row, _ = Deployment.objects.get_or_create(
            idempotency_key=ctx.idempotency_key, defaults={"kind": kind, "target": target, "created_at": clock.now()})
        # The claim: only the caller that moves the row from pending to running starts the deployment.
        claimed = Deployment.objects.filter(pk=row.pk, state=Deployment.State.PENDING).update(
            state=Deployment.State.RUNNING, started_at=clock.now())
        row.refresh_from_db()
        if claimed:
            audit.record(actor(NAME, ctx), "deployment.started", row, {"state": "pending"}, {"state": "running"})
            if kind == "command":
                row.pid = deploy.start(row.pk, argv, param(ctx, "cwd"), env=self._env(ctx))
                row.save(update_fields=["pid"])
            else:
                self._trigger(ctx, row)
        elif kind == "webhook" and not row.status_url and row.state == Deployment.State.RUNNING:
            # We claimed it earlier but died before the receiver answered: the Idempotency-Key makes a
            # repeat of the trigger safe.
            self._trigger(ctx, row)
        return self._follow(ctx, row)

    @staticmethod
    def _env(ctx: StepContext) -> dict[str, str]:
        """The contract with a deployment: tag every node it creates with drportal_key=$DRPORTAL_KEY (and
        drportal_server), so drportal can tell this run's nodes from the old ones by the tag, never by name
        or age (docs/cloud.md)."""
        return {"DRPORTAL_KEY": ctx.idempotency_key, "DRPORTAL_SERVER": str(param(ctx, "server", "") or ""),
                "DRPORTAL_REGION": region_name(ctx),
                "DRPORTAL_INCIDENT": str(ctx.incident_id or "")}

    def _trigger(self, ctx: StepContext, row: Deployment) -> None:
        body = webhook.trigger(row.target, ctx.idempotency_key,
                               {"idempotency_key": ctx.idempotency_key, "incident": ctx.incident_id,
                                "params": param(ctx, "payload", {})})
        status_url = body.get("status_url") or ""
        row.status_url = urljoin(row.target, status_url) if status_url else ""
        row.save(update_fields=["status_url"])
        if not status_url:
            self._finish(ctx, row, body.get("status", "succeeded"), 0, str(body.get("output", "")))

    def _follow(self, ctx: StepContext, row: Deployment) -> Outcome:
        if row.state == Deployment.State.RUNNING:
            if row.kind == "command":
                code, output = deploy.result(row.pk)
                if code is None and not deploy.alive(row.pid):
                    code, output = deploy.result(row.pk)  # it may have finished between the two reads
                    if code is None:
                        code, output = -1, output + "\n[the deployment process vanished without an exit code]"
                if code is not None:
                    self._finish(ctx, row, "succeeded" if code == 0 else "failed", code, output)
            elif row.status_url:
                body = webhook.status(row.status_url)
                if body.get("status") in ("succeeded", "failed"):
                    self._finish(ctx, row, body["status"], 0 if body["status"] == "succeeded" else 1,
                                 str(body.get("output", "")))
        output = {"deployment": row.pk, "kind": row.kind, "state": row.state, "output": row.output[-2000:]}
        if row.state == Deployment.State.SUCCEEDED:
            return Outcome(done=True, output={**output, **self._record_node(ctx, row)})
        if row.state == Deployment.State.FAILED:
            raise AdapterError(f"deployment failed (exit {row.exit_code}): {row.output[-500:]}", permanent=True,
                               provider="deployment", code="DeploymentFailed")
        check_timeout(ctx, 3600, "the deployment")
        return Outcome(done=False, poll_after=float(param(ctx, "poll_s", 5)), output=output)

    def _record_node(self, ctx: StepContext, row: Deployment) -> dict:
        """The node the deployment created for the server, found by its drportal_key tag at the provider and
        recorded on the server (the old one kept as previous_node), like provision_from_image does."""
        from drportal.cloud.actions.provision import action as provision
        from drportal.cloud.adapters import compute
        from drportal.inventory.models import Server

        server = Server.objects.select_related("account").filter(name=param(ctx, "server") or "").first()
        if server is None or server.account is None or server.account.driver in ("powerdns", "route53"):
            return {}
        account = account_named(ctx, "params.account", param(ctx, "account"), server.account)
        # The node is looked for where the deployment was told to build it (DRPORTAL_REGION, {region}).
        asked = region_name(ctx)
        provider = compute.provider_name(account)
        node = compute.find_node_by_key(compute.driver_for(account, region=asked or None), ctx.idempotency_key,
                                        provider)
        if node is None and asked:
            # A deployment that does not read its region builds in the account's default one.
            elsewhere = compute.find_node_by_key(compute.driver_for(account), ctx.idempotency_key, provider)
            if elsewhere is not None:
                self._built_elsewhere(ctx, row, server, elsewhere.id, account, asked)
        if node is None:
            ctx.say(f"the deployment tagged no node with {compute.KEY_TAG}={ctx.idempotency_key}: the inventory "
                    f"still names {server.provider_node_id or 'no node'} for {server.name}")
            return {"node_id": None}
        return {**provision._record(ctx, server, node), **({"region": asked} if asked else {})}

    @staticmethod
    def _built_elsewhere(ctx: StepContext, row: Deployment, server, node_id: str, account, asked: str) -> None:
        """The deployment built the server's node outside the region the step asked (the account's default, which
        may be the region that is down): the step fails, since a recovery claimed in `asked` would be false. The
        node is recorded as what it is, where it is (the step's state, the audit), and never on the server: the
        inventory does not take a node in the lost region for the server's replacement."""
        built = (account.options or {}).get("region") or "the account's default region"
        found = {"node_id": node_id, "region": built, "asked_region": asked, "server": server.name}
        if ctx.state.get("built_elsewhere") != found:
            ctx.state["built_elsewhere"] = found
            audit.record(actor(NAME, ctx), "deployment.built_elsewhere", row, None, found,
                         note=f"incident {ctx.incident_id}" if ctx.incident_id else "")
        raise AdapterError(f"the deployment built {node_id} in {built}, not in {asked} as the step asked: "
                           f"{server.name} is not recovered in {asked} (its command does not read {{region}} or "
                           "DRPORTAL_REGION)",
                           permanent=True, provider="deployment", code="BuiltElsewhere")

    def _finish(self, ctx: StepContext, row: Deployment, state: str, code: int, output: str) -> None:
        updated = Deployment.objects.filter(pk=row.pk, state=Deployment.State.RUNNING).update(
            state=state, exit_code=code, output=output, finished_at=clock.now())
        row.refresh_from_db()
        if updated:
            audit.record(actor(NAME, ctx), "deployment.finished", row, {"state": "running"},
                         {"state": state, "exit_code": code})


action = register(RunDeployment())
