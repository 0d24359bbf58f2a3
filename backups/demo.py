"""Demo backup history for the seed companies (run by `manage.py load_demo`, idempotent): each policy's recent
scheduled runs as records where the plans say the copies go, one failed dump, then a sweep, so the dashboard
shows real states, and the exposure page shows what losing Dallas would cost. In the demo's Cloud Files
stand-ins (load_demo.on_simulated_cloud), a real pg_dump file for every dump the history says succeeded, at its
container and key and with its completion time, so a restore from cloud storage downloads and loads what the
dashboard says is there (a failed dump left no file)."""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timedelta
from pathlib import Path

from backups import ingest, status, sweep
from backups.choices import LocationRule, Outcome, PolicyKind, RecordSource
from backups.models import BackupPolicy

HISTORY = timedelta(days=14)
MAX_RUNS = 30
# A fresh demo starts with this much history, replayed as the agents and the sweep would have lived it, so the
# compliance chart has a month to show from the first minute (seed_history).
SEEDED_DAYS = 30
REPLAY_STEP = timedelta(hours=12)
START_DELAY = timedelta(minutes=2)  # a scheduled backup starts this long after its time


def _where(policy: BackupPolicy, asset, zone) -> dict:
    """A location that follows the policy's rule, as the seeds describe the copies."""
    from drportal.inventory.models import Zone

    if policy.kind == PolicyKind.REPOSITORY_MIRROR:
        return {}
    if policy.location_rule == LocationRule.NAMED_REGION and policy.target_region_id:
        target = Zone.objects.filter(region_id=policy.target_region_id).order_by("id").first()
        return {"zone": str(target)} if target else {"region": str(policy.target_region)}
    if zone is None:
        return {}
    if policy.location_rule == LocationRule.OFFSITE_REGION:
        elsewhere = (Zone.objects.filter(region__provider_id=zone.region.provider_id)
                     .exclude(region_id=zone.region_id).order_by("id").first())
        # No other region at this provider (Cybernance names none): the copy stays home and shows co-located.
        return {"zone": str(elsewhere or zone)}
    if policy.location_rule == LocationRule.OFFSITE_ZONE or policy.kind == PolicyKind.POINT_IN_TIME:
        return {"region": str(zone.region)}
    return {"zone": str(zone)}


def _items(policy: BackupPolicy, now: datetime, history: timedelta = HISTORY, max_runs: int = MAX_RUNS,
           failing: bool = True) -> list[dict]:
    runs = [r for r in status.previous_runs(policy.schedule, policy.time_zone, now, max_runs) if r > now - history]
    items = []
    first = policy.assets.order_by("name").first()
    for asset in policy.assets.select_related("server__zone__region", "zone__region").order_by("name"):
        zone = asset.current_zone
        targets = list(asset.mirrors.all()) if policy.kind == PolicyKind.REPOSITORY_MIRROR else [None]
        for i, run in enumerate(runs):
            for mirror in targets:
                started = run + START_DELAY
                if started > now:
                    continue
                item = {"id": f"demo:{policy.pk}:{mirror.pk if mirror else ''}:{run:%Y%m%dT%H%M}",
                        "asset": asset.name, "policy": policy.name, "outcome": "succeeded",
                        "started_at": started.isoformat(),
                        "completed_at": min(started + timedelta(minutes=18), now).isoformat(),
                        "size_bytes": 250_000_000, "sha256": f"{asset.pk:064x}",
                        "location": _where(policy, asset, zone)}
                if policy.kind in (PolicyKind.DATABASE_DUMP, PolicyKind.FILE_COPY) and item["location"]:
                    # Where the dump lies in cloud storage: what a restore from cloud storage downloads.
                    item["location"] = {**item["location"], "container": policy.name,
                                        "key": f"{asset.name}/{run:%Y%m%dT%H%M}.dump"}
                if policy.kind in (PolicyKind.SYSTEM_IMAGE, PolicyKind.VOLUME_SNAPSHOT):
                    item["provider_state"] = "available"
                if policy.kind == PolicyKind.POINT_IN_TIME:
                    item["recovery_point"] = item["completed_at"]
                if mirror is not None:
                    mzone = mirror.current_zone
                    item["location"] = {"container": mirror.name, "key": mirror.external_id,
                                        **({"zone": str(mzone)} if mzone else {})}
                    item["provider_state"] = "in_sync"
                # The newest dump of the first customer database failed: a red line on the dashboard.
                dump = policy.kind == PolicyKind.DATABASE_DUMP
                if failing and i == 0 and dump and asset.customer_id and asset == first:
                    _fail(item)
                items.append(item)
    return items


def _fail(item: dict) -> None:
    item.update(outcome="failed", error="pg_dump: error: connection to server lost")
    item.pop("sha256", None)


def seed_history(now: datetime, stdout=None) -> int:
    """On a fresh demo only (no record, no sweep yet): the last SEEDED_DAYS replayed step by step, each step
    reporting each copy's newest run by then and sweeping at that time, so the daily compliance rollups hold
    what the sweep would have measured. Each sweep counts its whole step as observed (the records of the step
    are all in by its end); load() then reports the recent runs and sweeps the last, shorter step at `now`. So
    the compliance report of a fresh demo covers its whole period and states a figure, not a provisional one."""
    from backups.models import BackupRecord, SweepState

    if BackupRecord.objects.exists() or SweepState.objects.filter(name="rollup").exists():
        return 0
    policies = list(BackupPolicy.objects.filter(active=True).order_by("name"))
    # The run load() reports as failed may be older than the replay's last step (the demo started more than half
    # a day after it): the replay reports it failed too, or its record would be in as succeeded, never failed.
    # By (asset, id): a run's id names its policy and time, not its asset (every database of the policy shares it).
    failed = {(i["asset"], i["id"]) for p in policies for i in _items(p, now) if i["outcome"] == "failed"}
    created, at = 0, now - timedelta(days=SEEDED_DAYS)
    while at < now:
        # Only each copy's newest run can change what this sweep measures (a policy every five minutes would
        # otherwise mean thousands of records a copy and minutes of start-up). The newest two, in a window
        # START_DELAY longer than the step: a run at the step's very time has not started yet and is reported
        # by the next step, and the one before it stands for this step (on a step falling on a policy's schedule,
        # the hour for an hourly one, that copy was otherwise never reported at all).
        due = [item for policy in policies
               for item in _items(policy, at, REPLAY_STEP + START_DELAY, max_runs=2, failing=False)]
        for item in due:
            if (item["asset"], item["id"]) in failed:
                _fail(item)
        if due:
            lookups = ingest.Lookups(due, None)
            created += len(ingest.save([ingest.build_record(i, lookups, at, source=RecordSource.MANUAL)
                                        for i in due]).created)
        sweep.sweep(at, actor="command:load_demo", rollup_step=REPLAY_STEP)
        at += REPLAY_STEP
    if stdout is not None:
        stdout.write(f"backups: {SEEDED_DAYS} days of history replayed ({created} backup records)")
    return created


def load(now: datetime, stdout=None) -> int:
    created = seed_history(now, stdout)
    # Just replayed: the time since the replay's last step is that step's too. On a later start the gap since the
    # last sweep is time nobody watched (the demo was stopped), and stays out of the figures.
    step = REPLAY_STEP if created else sweep.MAX_ROLLUP_STEP
    for policy in BackupPolicy.objects.filter(active=True).order_by("name"):
        items = _items(policy, now)
        if not items:
            continue
        lookups = ingest.Lookups(items, None)
        records = [ingest.build_record(item, lookups, now, source=RecordSource.MANUAL) for item in items]
        created += len(ingest.save(records).created)
    totals = sweep.sweep(now, actor="command:load_demo", rollup_step=step)
    dumps = fill_storage()
    if stdout is not None:
        stdout.write(f"backups: {created} demo backup records, {totals['pairs']} policy-asset pairs evaluated; "
                     f"{dumps} new dump files in the Cloud Files stand-in")
    return created


DEMO_SCHEMA = ("CREATE TABLE orders (id int PRIMARY KEY, placed_at timestamptz, note text); "
               "CREATE TABLE invoices (id int PRIMARY KEY, order_id int, total numeric(10, 2))")
DUMPS_VERSION = 1  # the content of the demo's customer databases; a new number makes their dumps again


def fill_storage() -> int:
    """Every succeeded dump record of a database whose dumps a local stand-in holds, as a file there (its mtime
    the record's completion: what "newest" means to a restore). Each file is a copy of one real pg_dump of the
    customer's demo database per container, made once on the stand-in PostgreSQL. Returns the files written."""
    from drportal.inventory.models import Asset, ProviderAccount
    from drportal.lib import standin_pg

    stores = {a.name: Path(a.options["path"]) for a in ProviderAccount.objects.filter(driver="local")
              if (a.options or {}).get("stands_in_for") and (a.options or {}).get("path")}
    if not stores:
        return 0
    maker = standin_pg.demo_server()
    was_running = maker.pid() is not None
    written = 0
    try:
        for asset in Asset.objects.exclude(dumps=[]).exclude(restore={}).order_by("name"):
            for where in asset.dumps:
                if where.get("account") in stores:
                    written += _copies(asset, where, stores[where["account"]], maker)
    finally:
        if not was_running:
            maker.stop()  # it made the templates; nothing else needs it
    return written


def _copies(asset, where: dict, root: Path, maker) -> int:
    from backups.models import BackupRecord

    records = BackupRecord.objects.filter(asset=asset, outcome=Outcome.SUCCEEDED, container=where["container"],
                                          key__startswith=where.get("prefix", "")).exclude(key="")
    template, written = None, 0
    for key, done in records.values_list("key", "completed_at"):
        path = root / where["container"] / key
        if path.exists():
            continue  # written, and dated, on an earlier round: the demo agents call this every minute
        template = template or _template(asset, where["container"], maker)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = template.with_name(f"{path.name}.{os.getpid()}.partial")  # outside the store: never listed
        shutil.copyfile(template, partial)
        os.utime(partial, (done.timestamp(), done.timestamp()))
        partial.replace(path)  # dated before it appears: a round cut short never leaves a file dated "now"
        written += 1
    return written


def _template(asset, container: str, server) -> Path:
    """One real custom-format dump of the customer's demo database, as that container's copies hold it: an
    orders and an invoices table, the daily copy newer (more orders) than the weekly one."""
    from drportal.lib import standin_pg

    path = standin_pg.demo_dir() / "demo-dumps" / f"v{DUMPS_VERSION}-{asset.name}-{container}.dump"
    if path.exists():
        return path
    server.start()
    source = f"demo_source_{asset.pk}"
    orders = 40 + 7 * (sum(map(ord, asset.name)) % 9) + (6 if "daily" in container else 0)
    server.sql(f"DROP DATABASE IF EXISTS {source}")
    server.sql(f"CREATE DATABASE {source}")
    server.sql(DEMO_SCHEMA, source)
    server.sql(f"INSERT INTO orders SELECT g, now() - make_interval(hours => {orders} - g), 'order ' || g "  # noqa: S608 - integers of ours
               f"FROM generate_series(1, {orders}) g; "
               "INSERT INTO invoices SELECT id, id, 12.5 * id FROM orders WHERE id % 2 = 0", source)
    partial = path.with_suffix(".partial")
    partial.parent.mkdir(parents=True, exist_ok=True)
    server.dump(source, partial)
    partial.replace(path)  # whole or not at all: a dump cut short is never taken for the template
    server.sql(f"DROP DATABASE {source}")
    return path

