"""verify_failover: confirm the automatic failovers the Cybernance plan relies on (RDS Multi-AZ, Redis)."""

from __future__ import annotations

from urllib.parse import urlparse

from drportal.cloud.actions.base import Outcome, StepContext, register
from drportal.cloud.actions.common import account_named, bad_input, param, started_at
from drportal.cloud.adapters import rds_recovery, redis_role
from drportal.lib import clock


def _redis_label(url: str) -> str:
    # host:port only: never show a password that may sit in the URL.
    parsed = urlparse(url)
    return f"{parsed.hostname}:{parsed.port or 6379}"


class VerifyFailover:
    name = "verify_failover"
    title = "Confirm that RDS Multi-AZ and Redis failed over by themselves"

    def _from_inventory(self, kind: str):
        """kind=rds: every managed database; kind=redis: the cache replicas, which should have taken over."""
        from drportal.inventory.choices import AssetKind
        from drportal.inventory.models import Asset

        if kind == "rds":
            assets = list(Asset.objects.filter(kind=AssetKind.MANAGED_DATABASE).exclude(external_id="")
                          .select_related("account"))
            return [a.external_id for a in assets], [], (assets[0].account.name if assets and assets[0].account
                                                          else None)
        caches = Asset.objects.filter(kind=AssetKind.CACHE).order_by("name")
        replicas = [a for a in caches if (a.metadata or {}).get("role") == "replica" or a.mirror_of_id] or list(caches)
        return [], [{"url": (a.metadata or {}).get("redis_url", ""), "expect": "master", "asset": a.name}
                    for a in replicas], None

    def _targets(self, ctx: StepContext):
        rds = param(ctx, "rds", [])
        redis = param(ctx, "redis", [])
        account_name = param(ctx, "account")
        kind = param(ctx, "kind")
        if not rds and not redis and kind in ("rds", "redis"):
            rds, redis, derived_account = self._from_inventory(kind)
            account_name = account_name or derived_account
        if not rds and not redis:
            raise bad_input("params.rds", "name at least one RDS instance or Redis server to check")
        for i, item in enumerate(redis):
            if isinstance(item, dict) and item.get("asset") and not item.get("url"):
                continue  # from the inventory, without a URL: reported as a problem, not a crash
            if not isinstance(item, dict) or not str(item.get("url", "")).startswith(("redis://", "rediss://")):
                raise bad_input(f"params.redis[{i}].url", "must be a redis:// URL")
            if item.get("expect", "master") not in ("master", "replica"):
                raise bad_input(f"params.redis[{i}].expect", "must be master or replica")
        account = account_named(ctx, "params.account", account_name) if rds else None
        return account, rds, redis

    def plan(self, ctx: StepContext) -> list[str]:
        _, rds, redis = self._targets(ctx)
        lines = [f"Check that RDS {i} is Multi-AZ and available" for i in rds]
        lines += [f"Check that Redis {_redis_label(r['url']) if r.get('url') else r.get('asset')} is "
                  f"{r.get('expect', 'master')}" for r in redis]
        return [*lines, "If not, raise a manual step for the on-call engineer."]

    def execute(self, ctx: StepContext) -> Outcome:
        account, rds, redis = self._targets(ctx)
        first_seen = started_at(ctx)
        checks, problems = [], []
        for instance in rds:
            status = rds_recovery.multi_az_status(account, instance)
            ok = status["multi_az"] and status["status"] == "available"
            failed_zone = param(ctx, "failed_zone")
            if ok and failed_zone and status["zone"] == failed_zone:
                ok = False
                status["problem"] = f"primary still in the failed zone {failed_zone}"
            checks.append({"kind": "rds", **status, "ok": ok})
            if not ok:
                problems.append(status.get("problem") or
                                f"RDS {instance}: Multi-AZ {status['multi_az']}, status {status['status']}")
        for item in redis:
            if not item.get("url"):
                checks.append({"kind": "redis", "server": item["asset"], "ok": False, "error": "no metadata.redis_url"})
                problems.append(f"Redis {item['asset']}: cannot be checked (no metadata.redis_url in the inventory)")
                continue
            label = _redis_label(item["url"])
            want = item.get("expect", "master")
            try:
                info = redis_role.replication(item["url"])
            except Exception as exc:  # noqa: BLE001 - an unreachable cache is a finding, not a crash
                checks.append({"kind": "redis", "server": label, "ok": False, "error": str(exc)})
                problems.append(f"Redis {label}: unreachable ({exc})")
                continue
            role = "master" if info.role == "master" else "replica"
            ok = role == want and info.link_up
            checks.append({"kind": "redis", "server": label, "role": role, "expected": want, "master": info.master,
                           "link_up": info.link_up, "replicas": info.connected_replicas, "ok": ok})
            if not ok:
                problems.append(f"Redis {label} is {role}{'' if info.link_up else ' with its link down'}, "
                                f"expected {want}")
        output = {"checks": checks, "problems": problems}
        if not problems:
            ctx.say("every automatic failover happened")
            return Outcome(done=True, output=output)
        waited = (clock.now() - first_seen).total_seconds()
        if waited < float(param(ctx, "wait_s", 0)):
            # RDS takes one to two minutes to fail over: look again before calling a human.
            return Outcome(done=False, poll_after=float(param(ctx, "poll_s", 15)), output=output)
        ctx.say("automatic failover did not happen: " + "; ".join(problems))
        return Outcome(done=True, handover="manual", output={
            **output, "manual_step": "Fail over by hand: " + "; ".join(problems)})


action = register(VerifyFailover())
