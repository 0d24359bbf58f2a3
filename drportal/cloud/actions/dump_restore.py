"""restore_database for a database whose inventory entry says where its dumps live and how it is restored
(Asset.dumps / Asset.restore, docs/inventory.md): the newest dump in those places (only the copies in
params.region when given), downloaded and checked against the provider's checksum, then loaded on the
target server, by pg_restore (built in) or the inventory's command.

Durable before every side effect: the chosen dump is kept in ctx.state before the download; a Deployment row
is written and claimed (pending -> running) before the target database is created and pg_restore starts
detached, so a retried step neither restores twice nor over data it did not put there. With pg_restore,
"done" means every table of the dump holds, in the restored database, the rows the dump holds.
"""

from __future__ import annotations

import hashlib
import os
import shlex

from drportal.audit import log as audit
from drportal.audit.models import AuditEvent
from drportal.cloud.actions.base import Outcome, StepContext
from drportal.cloud.actions.common import account_named, actor, bad_input, check_timeout, param, split_region
from drportal.cloud.adapters import deploy, pgrestore
from drportal.cloud.adapters.errors import AdapterError
from drportal.cloud.models import Deployment
from drportal.lib import clock

NAME = "restore_database"
S3_DRIVERS = ("aws", "ec2", "s3")


def _locations(ctx: StepContext, asset) -> list[dict]:
    region = str(param(ctx, "region") or "")
    if not region:
        return list(asset.dumps)
    provider, slug = split_region(region)
    chosen = [w for w in asset.dumps if split_region(w.get("region"))[1] == slug
              and (not provider or w.get("region", "").startswith(provider + "/"))]
    if not chosen:
        raise AdapterError(f"{asset.name} keeps no dumps in {region} (the inventory names "
                           f"{', '.join(w.get('region') or w['container'] for w in asset.dumps)})",
                           permanent=True, code="NoDumpsThere")
    return chosen


def _dumps_account(ctx: StepContext, name: str):
    """The account holding the dumps. A drill reads the real dumps too (read only, as a restore test does):
    what it proves is that they restore; it restores them into its sandbox, never onto the target."""
    if not ctx.drill:
        return account_named(ctx, "dumps.account", name)
    from drportal.inventory.models import ProviderAccount

    account = ProviderAccount.objects.filter(name=name).first()
    if account is None:
        raise bad_input("dumps.account", f"no provider account {name!r}")
    return account


def _listing(ctx: StepContext, where: dict):
    from drportal.cloud.adapters import objectstore, s3

    account = _dumps_account(ctx, where["account"])
    slug = split_region(where.get("region"))[1] or None
    if account.driver in S3_DRIVERS:
        return account, s3.list_objects(account, where["container"], where.get("prefix", ""))
    return account, objectstore.list_objects(account, where["container"], where.get("prefix", ""), region=slug)


def newest_dump(ctx: StepContext, asset) -> dict:
    best = None
    for where in _locations(ctx, asset):
        account, objects = _listing(ctx, where)
        for obj in objects:
            if obj["key"].endswith("/") or not obj.get("size"):
                continue  # a "directory" marker or an empty upload is no dump
            candidate = {"account": account.name, "container": where["container"], "key": obj["key"],
                         "region": where.get("region", ""), "size": obj["size"],
                         "md5": obj.get("md5") or obj.get("etag") or "",
                         "last_modified": obj["last_modified"].isoformat() if obj.get("last_modified") else ""}
            if best is None or (candidate["last_modified"], candidate["key"]) > (best["last_modified"], best["key"]):
                best = candidate
    if best is None:
        raise AdapterError(f"no dump of {asset.name} in " + ", ".join(
            f"{w['account']}:{w['container']}/{w.get('prefix', '')}" for w in _locations(ctx, asset)),
            permanent=True, code="NoDump")
    return {**best, "recovery_point": recovery_point(asset, best)}


def recovery_point(asset, dump: dict) -> str:
    """What the restored database holds data up to: the recovery point of the backup record that names this
    object (a dump's snapshot is taken when it starts), else the object's upload time (an upper bound: the
    data is no newer than that), else ""."""
    from drportal.cloud import copies

    try:
        record = copies.catalogue().dumps(asset).filter(container=dump["container"], key=dump["key"]).first()
    except LookupError:  # no backups app: the storage's own time is all there is
        record = None
    if record is not None and record.recovery_point:
        return record.recovery_point.isoformat()
    return dump["last_modified"]


def _download(ctx: StepContext, dump: dict, path: str) -> None:
    from drportal.cloud.adapters import objectstore, s3

    account = _dumps_account(ctx, dump["account"])
    if account.driver in S3_DRIVERS:
        s3.download(account, dump["container"], dump["key"], path)
    else:
        objectstore.download(account, dump["container"], dump["key"], path,
                             region=split_region(dump["region"])[1] or None)
    size = os.path.getsize(path)
    if dump["size"] and size != dump["size"]:
        raise AdapterError(f"{dump['key']}: downloaded {size} bytes, the provider lists {dump['size']}",
                           permanent=False, code="SizeMismatch")
    md5 = hashlib.md5()  # noqa: S324 - compared with the provider's ETag, which is an MD5  # nosec B324
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            md5.update(block)
    # A multipart S3 upload's ETag is no MD5 ("...-N"), and libcloud's local driver hashes the file's mtime,
    # not its content: only a plain provider MD5 can be compared.
    expected = "" if account.driver == "local" else dump["md5"].strip('"')
    if expected and "-" not in expected and md5.hexdigest() != expected:
        raise AdapterError(f"{dump['key']}: downloaded {md5.hexdigest()}, the provider says {expected}",
                           permanent=False, code="ChecksumMismatch")


def drill_database(ctx: StepContext, database: str) -> str:
    return f"drill{ctx.incident_id}_{database}"[:63]


def target_of(ctx: StepContext, asset) -> pgrestore.Target:
    from drportal.inventory.models import Server

    spec = asset.restore or {}
    if ctx.drill:
        # The bubble's own PostgreSQL (DRILL_POSTGRES_*), a database named after the drill: torn down afterwards.
        target = pgrestore.drill_target(drill_database(ctx, spec["database"]))
        if target is None:
            raise AdapterError("a drill restores into a sandbox PostgreSQL: set DRILL_POSTGRES_HOST", permanent=True,
                               code="NoDrillTarget")
        return target
    name = spec.get("server") or (asset.server.name if asset.server_id else "")
    # The run's own word first: the address of the server it provisioned (params.host, bound by the engine
    # from the provisioning step's row); then the inventory's fixed host, then the server's recorded addresses.
    bound = param(ctx, "host")
    bound = next((a for a in bound if a), "") if isinstance(bound, list) else (bound or "")
    server = Server.objects.filter(name=name).first()
    host = bound or spec.get("host") or (
        server and ((server.private_ips or []) + (server.public_ips or []) or [""])[0])
    if not host:
        raise bad_input("restore.host", f"server {name!r} has no address to restore {asset.name} on")
    return pgrestore.Target(host=host, port=int(spec.get("port", 5432)), user=spec.get("user", "postgres"),
                            database=spec["database"], password_env=spec.get("password_env", ""))


def _argv(ctx: StepContext, asset, target: pgrestore.Target, path: str, major: int) -> list[str]:
    spec = asset.restore
    if spec.get("method") == "pg_restore":
        return pgrestore.restore_argv(target, path, major)
    values = {"path": path, "database": target.database, "host": target.host, "port": str(target.port)}
    return [arg.format_map(values) for arg in shlex.split(spec["command"])]


def plan(ctx: StepContext, asset) -> list[str]:
    """What execute would do, from the inventory alone (no provider call: a drill plans without reading
    production storage)."""
    spec = asset.restore or {}
    places = ", ".join(f"{w['account']}:{w['container']}/{w.get('prefix', '')}" for w in _locations(ctx, asset))
    how = "pg_restore, then compare every table's rows with the dump" if spec.get("method") == "pg_restore" \
        else f"the restore command {spec.get('command', '(none)')!r}"
    server = spec.get("server") or (asset.server.name if asset.server_id else spec.get("host", "?"))
    return [f"Download the newest dump of {asset.name} from {places}, check its checksum, and load it into "
            f"database {spec.get('database', '?')} on {server} with {how}."]


def execute(ctx: StepContext, asset) -> Outcome:
    if not asset.restore:
        raise bad_input("restore", f"the inventory says where the dumps of {asset.name} live, not how to restore "
                                   "them (restore.method or restore.command)")
    key = f"{ctx.idempotency_key}:restore"
    row = Deployment.objects.filter(idempotency_key=key).first()
    target = target_of(ctx, asset)
    if row is None:
        if "dump" not in ctx.state:
            ctx.state["dump"] = newest_dump(ctx, asset)
            ctx.say(f"newest dump: {ctx.state['dump']['container']}/{ctx.state['dump']['key']} "
                    f"({ctx.state['dump']['last_modified']})")
        dump = ctx.state["dump"]
        path = str(deploy.workdir() / f"dump-{hashlib.sha1(key.encode()).hexdigest()[:12]}")  # noqa: S324  # nosec
        _download(ctx, dump, path)
        with target.connect("postgres") as probe:
            major = probe.info.server_version // 10000
        if asset.restore.get("method") == "pg_restore":
            ctx.state["expected"] = pgrestore.dump_row_counts(path, major)
        argv = _argv(ctx, asset, target, path, major)
        row, _ = Deployment.objects.get_or_create(idempotency_key=key, defaults={
            "kind": "command", "target": shlex.join(argv), "created_at": clock.now()})
    elif "dump" not in ctx.state or ("expected" not in ctx.state and asset.restore.get("method") == "pg_restore"):
        # A worker died after writing the row but before the engine kept ctx.state: read it all again (the
        # downloaded file is the row's last argument).
        ctx.state.setdefault("dump", newest_dump(ctx, asset))
        if asset.restore.get("method") == "pg_restore":
            with target.connect("postgres") as probe:
                major = probe.info.server_version // 10000
            ctx.state["expected"] = pgrestore.dump_row_counts(shlex.split(row.target)[-1], major)
    if Deployment.objects.filter(pk=row.pk, state=Deployment.State.PENDING).update(
            state=Deployment.State.RUNNING, started_at=clock.now()):
        # Only the claimer touches the target: a fresh database, or an empty one; never one with tables.
        pgrestore.prepare(target)
        row.pid = deploy.start(row.pk, shlex.split(row.target), env=target.env())
        row.save(update_fields=["pid"])
        audit.record(actor(NAME, ctx), "database.restore_started", asset, None,
                     {"dump": ctx.state["dump"]["key"], "container": ctx.state["dump"]["container"],
                      "database": target.database, "host": target.host})
    row.refresh_from_db()
    if row.state == Deployment.State.RUNNING:
        _collect(ctx, row)
        row.refresh_from_db()
    if row.state == Deployment.State.FAILED:
        raise AdapterError(f"restore of {asset.name} failed (exit {row.exit_code}): {row.output[-500:]}",
                           permanent=True, code="RestoreFailed")
    if row.state != Deployment.State.SUCCEEDED:
        check_timeout(ctx, 7200, f"the restore of {asset.name}")
        return Outcome(done=False, poll_after=float(param(ctx, "poll_s", 5)),
                       output={"dump": ctx.state.get("dump"), "state": row.state})
    return Outcome(done=True, output=_verify(ctx, asset, target))


def _collect(ctx: StepContext, row: Deployment) -> None:
    code, output = deploy.result(row.pk)
    if code is None and not deploy.alive(row.pid):
        code, output = deploy.result(row.pk)
        if code is None:
            code, output = -1, output + "\n[the restore process vanished without an exit code]"
    if code is None:
        return
    state = Deployment.State.SUCCEEDED if code == 0 else Deployment.State.FAILED
    if Deployment.objects.filter(pk=row.pk, state=Deployment.State.RUNNING).update(
            state=state, exit_code=code, output=output, finished_at=clock.now()):
        audit.record(actor(NAME, ctx), "database.restore_finished", row, {"state": "running"},
                     {"state": state, "exit_code": code})


def _verify(ctx: StepContext, asset, target: pgrestore.Target) -> dict:
    dump = ctx.state["dump"]
    # A step whose dump was chosen before dumps carried their recovery point: the upload time, as then.
    point = dump.get("recovery_point") or dump["last_modified"]
    output = {"dump": dump, "database": target.database, "host": target.host, "recovery_point": point}
    expected = ctx.state.get("expected")
    if expected is None:
        ctx.say("restored by the inventory's command: row counts not checked")
        return {**output, "rows_checked": False}
    found = pgrestore.row_counts(target, sorted(expected))
    wrong = {t: {"dump": n, "restored": found[t]} for t, n in expected.items() if found[t] != n}
    if wrong:
        raise AdapterError(f"restored {asset.name} does not hold the dump's rows: {wrong}", permanent=True,
                           code="RowCountMismatch")
    # The audit row is the durable record that this step restored the database: a job retried after its state
    # was lost (the worker died before the engine kept it) finds the row and does not say "restored" twice.
    if not ctx.state.get("recorded") and not AuditEvent.objects.filter(
            action="database.restored", actor_label=actor(NAME, ctx)).exists():
        audit.record(actor(NAME, ctx), "database.restored", asset, None,
                     {"dump": dump["key"], "database": target.database, "host": target.host,
                      "tables": len(expected), "rows": sum(expected.values()), "recovery_point": point})
        ctx.state["recorded"] = True
    ctx.say(f"{asset.name}: {len(expected)} table(s), {sum(expected.values())} row(s), as in the dump")
    return {**output, "rows_checked": True, "tables": found, "rows": sum(expected.values())}

