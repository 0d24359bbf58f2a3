"""restore_database from cloud storage: the most recent viable backup of the asset (backups app records),
downloaded through the storage adapter, then loaded by the configured restore command, which runs
detached like a deployment (a Deployment row claimed before it starts, so it never runs twice).

params: asset (a database on a server), region (only copies kept there), record (the backup record a person
chose as the recovery point; default the newest viable one that nobody marked suspect), suspect_approved_by
(the manager who approved restoring from a suspect point), storage_account (where the copies are), restore_command
(argv or string; "{path}" is replaced by the downloaded file), timeout_s.
"""

from __future__ import annotations

import shlex

from django.db.models import Q

from drportal.audit import log as audit
from drportal.cloud import copies
from drportal.cloud.actions.base import Outcome, StepContext
from drportal.cloud.actions.common import account_named, actor, bad_input, check_timeout, param, split_region
from drportal.cloud.adapters import deploy
from drportal.cloud.adapters.errors import AdapterError
from drportal.cloud.models import Deployment
from drportal.lib import clock

NAME = "restore_database"


def _latest(ctx: StepContext):
    from drportal.inventory.models import Asset

    asset = Asset.objects.filter(name=param(ctx, "asset", required=True)).first()
    if asset is None:
        raise bad_input("params.asset", f"no asset {param(ctx, 'asset')!r}")
    records = copies.catalogue().dumps(asset)
    region = param(ctx, "region")
    records = copies_in(records, region)
    if param(ctx, "record"):
        return asset, _chosen(ctx, asset, records)
    # A point someone marked suspect is never the default: a person must choose it, and a manager approve it.
    record = records.filter(suspect__isnull=True).order_by("-recovery_point", "-completed_at").first()
    if record is None:
        raise AdapterError(f"{asset.name} has no viable backup in cloud storage" + (f" in {region}" if region else ""),
                           permanent=True, code="NoViableBackup")
    return asset, record


def _chosen(ctx: StepContext, asset, records):
    chosen = param(ctx, "record")
    record = records.select_related("suspect").filter(pk=chosen).first() if str(chosen).isdigit() else None
    if record is None:
        where = f" in {param(ctx, 'region')}" if param(ctx, "region") else ""
        raise bad_input("params.record", f"backup #{chosen} is not a viable copy of {asset.name}{where}")
    suspect = getattr(record, "suspect", None)
    if suspect is not None and not param(ctx, "suspect_approved_by"):
        raise AdapterError(f"backup #{record.pk} of {asset.name} is marked suspect ({suspect.reason}); a manager "
                           "must approve restoring from it", permanent=True, code="SuspectNeedsApproval")
    return record


def _argv(ctx: StepContext, path: str, asset=None) -> list[str]:
    command = param(ctx, "restore_command") or ((asset.metadata or {}).get("restore_command") if asset else None)
    if not command:
        raise bad_input("params.restore_command", "is required (or set the asset's metadata.restore_command)")
    argv = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
    if not any("{path}" in a for a in argv):
        raise bad_input("params.restore_command", "must contain {path}, where the downloaded backup is put")
    return [a.replace("{path}", path) for a in argv]


def _with_dumps(ctx: StepContext):
    """The asset when the inventory says where its dumps live (then dump_restore does the work)."""
    from drportal.inventory.models import Asset

    asset = Asset.objects.select_related("server").filter(name=param(ctx, "asset", required=True)).first()
    return asset if asset is not None and asset.dumps else None


def plan(ctx: StepContext) -> list[str]:
    asset = _with_dumps(ctx)
    if asset is not None:
        from drportal.cloud.actions import dump_restore

        return dump_restore.plan(ctx, asset)
    asset, record = _latest(ctx)
    return [f"Download {record.container}/{record.key} (recovery point {record.recovery_point}) and load it into "
            f"{asset.name} with the restore command."]


def _storage_account(ctx: StepContext, record):
    """params.storage_account, else the account of the backups app's source that holds the record's container."""
    name = param(ctx, "storage_account")
    if not name:
        name = copies.catalogue().account_of_container(record.container)
    if not name:
        raise bad_input("params.storage_account", f"which account holds container {record.container!r}?")
    return account_named(ctx, "params.storage_account", name)


def _download(ctx: StepContext, record, path: str) -> None:
    from drportal.cloud.adapters import objectstore, s3

    account = _storage_account(ctx, record)
    if account.driver in ("aws", "ec2", "s3"):
        s3.download(account, record.container, record.key, path)
    else:
        objectstore.download(account, record.container, record.key, path)


def execute(ctx: StepContext) -> Outcome:
    with_dumps = _with_dumps(ctx)
    if with_dumps is not None:
        from drportal.cloud.actions import dump_restore

        return dump_restore.execute(ctx, with_dumps)
    if ctx.drill:
        # The restore command loads into the production target: a drill needs the inventory's dumps/restore.
        raise AdapterError(f"a drill restores only databases whose inventory entry names their dumps and restore "
                           f"({param(ctx, 'asset')} does not)", permanent=True, code="NoDrillRestore")
    asset, record = _latest(ctx) if "record" not in ctx.state else (None, None)
    key = f"{ctx.idempotency_key}:restore"
    row = Deployment.objects.filter(idempotency_key=key).first()
    if row is None:
        path = str(deploy.workdir() / f"restore-{record.pk}-{record.key.rsplit('/', 1)[-1]}")
        argv = _argv(ctx, path, asset)
        _download(ctx, record, path)
        ctx.state["record"] = {"id": record.pk, "key": record.key,
                               "recovery_point": record.recovery_point.isoformat() if record.recovery_point else None}
        row, _ = Deployment.objects.get_or_create(idempotency_key=key, defaults={
            "kind": "command", "target": shlex.join(argv), "created_at": clock.now()})
        if Deployment.objects.filter(pk=row.pk, state=Deployment.State.PENDING).update(
                state=Deployment.State.RUNNING, started_at=clock.now()):
            row.pid = deploy.start(row.pk, argv)
            row.save(update_fields=["pid"])
            audit.record(actor(NAME, ctx), "database.restore_started", asset, None,
                         {"backup": record.key, "recovery_point": ctx.state["record"]["recovery_point"]})
        row.refresh_from_db()
    if row.state == Deployment.State.RUNNING:
        code, output = deploy.result(row.pk)
        if code is None and not deploy.alive(row.pid):
            code, output = deploy.result(row.pk)
            if code is None:
                code, output = -1, output + "\n[the restore process vanished without an exit code]"
        if code is not None:
            state = Deployment.State.SUCCEEDED if code == 0 else Deployment.State.FAILED
            if Deployment.objects.filter(pk=row.pk, state=Deployment.State.RUNNING).update(
                    state=state, exit_code=code, output=output, finished_at=clock.now()):
                audit.record(actor(NAME, ctx), "database.restore_finished", row, {"state": "running"},
                             {"state": state, "exit_code": code})
            row.refresh_from_db()
    output = {"backup": ctx.state.get("record"), "state": row.state, "output": row.output[-2000:]}
    if row.state == Deployment.State.SUCCEEDED:
        return Outcome(done=True, output=output)
    if row.state == Deployment.State.FAILED:
        raise AdapterError(f"restore failed (exit {row.exit_code}): {row.output[-500:]}", permanent=True,
                           code="RestoreFailed")
    check_timeout(ctx, 7200, "the database restore")
    return Outcome(done=False, poll_after=float(param(ctx, "poll_s", 5)), output=output)


def copies_in(records, region: str | None):
    """The records kept in `region` ("provider/slug" or "slug"); all of them when no region is named.
    "Recover from the copies in Kansas City": when the failed region's copies are lost with it, only the copies
    kept in the named region count. The recovery-point catalogue (scenarios.recovery_points) offers the same."""
    if not region:
        return records
    provider, slug = split_region(region)
    where = Q(region__slug=slug) | Q(zone__region__slug=slug)
    if provider:
        where = (Q(region__slug=slug, region__provider__slug=provider)
                 | Q(zone__region__slug=slug, zone__region__provider__slug=provider))
    return records.filter(where)
