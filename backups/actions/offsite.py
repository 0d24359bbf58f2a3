"""reconfigure_offsite: after a region failover, point backup policies at a region that is off-site again
and list the backups that are now co-located with the servers (the Jivosoft plan's last Dallas step:
"if new servers are operating from the same data center where the off-site backups were stored, those
backups are no longer off-site")."""

from __future__ import annotations

from drportal.audit import log as audit
from drportal.cloud.actions.base import Outcome, StepContext, register
from drportal.cloud.actions.common import actor, bad_input, param, split_region

NAME = "reconfigure_offsite"


def _region(field: str, value: str | None):
    """"provider/region" (or a bare region slug when it is unambiguous) → Region."""
    from drportal.inventory.models import Region

    if not value:
        return None
    provider, slug = split_region(value)
    regions = Region.objects.select_related("provider").filter(slug=slug)
    if provider:
        regions = regions.filter(provider__slug=provider)
    found = list(regions[:2])
    if len(found) != 1:
        raise bad_input(field, f"{value!r} names {'no' if not found else 'more than one'} region")
    return found[0]


class ReconfigureOffsite:
    name = NAME
    title = "Point backup policies at a region that is off-site again"

    def _setup(self, ctx: StepContext):
        from backups.choices import LocationRule
        from backups.models import BackupPolicy
        from drportal.inventory.models import Region

        active = _region("params.region", param(ctx, "region", required=True))
        target = _region("params.target_region", param(ctx, "target_region"))
        if target is not None and target.pk == active.pk:
            raise bad_input("params.target_region", "must differ from the region the servers now run in")
        colocated = list(BackupPolicy.objects.filter(location_rule=LocationRule.NAMED_REGION, target_region=active,
                                                     active=True))
        if colocated and target is None:
            # Never pick the region that just failed: it is off-site, but it is down.
            failed = _region("params.failed_region", param(ctx, "failed_region"))
            others = Region.objects.filter(provider=active.provider).exclude(pk=active.pk)
            if failed is not None:
                others = others.exclude(pk=failed.pk)
            target = others.order_by("slug").first()
            if target is None:
                raise bad_input("params.target_region", f"{active.provider} has no other working region: name one")
        return active, target, colocated

    def _colocated_backups(self, active) -> list[dict]:
        from django.db.models import Max

        from backups.models import BackupRecord

        latest = (BackupRecord.objects.filter(viable=True).values("policy_id", "asset_id")
                  .annotate(last=Max("completed_at")))
        rows = []
        for item in latest:
            record = (BackupRecord.objects.select_related("policy", "asset", "region")
                      .filter(policy_id=item["policy_id"], asset_id=item["asset_id"], completed_at=item["last"],
                              viable=True).first())
            if record and record.region_id == active.pk:
                rows.append({"policy": record.policy.name, "asset": record.asset.name, "key": record.key,
                             "container": record.container, "completed_at": record.completed_at.isoformat()})
        return rows

    def plan(self, ctx: StepContext) -> list[str]:
        active, target, colocated = self._setup(ctx)
        lines = [f"Policy {p.name}: keep copies in {target} instead of {active}." for p in colocated]
        return lines or [f"No policy keeps its copies in {active}; list the backups co-located there."]

    def execute(self, ctx: StepContext) -> Outcome:
        if ctx.drill:
            # Backup policies are production configuration: a drill in a bubble only says what it would change.
            lines = self.plan(ctx)
            for line in lines:
                ctx.say(f"drill: would {line}")
            return Outcome(done=True, output={"drill": True, "would": lines})
        active, target, colocated = self._setup(ctx)
        changed = []
        for policy in colocated:
            before = audit.snapshot(policy, ["target_region"])
            policy.target_region = target
            policy.save(update_fields=["target_region"])
            audit.record(actor(NAME, ctx), "backups.policy_offsite", policy, before,
                         audit.snapshot(policy, ["target_region"]), note=f"servers now run in {active}")
            changed.append(policy.name)
        backups = self._colocated_backups(active)
        # With no policy to move there is no target region to name (it is None): say so, not "in None".
        moved = (f"{len(changed)} polic{'y' if len(changed) == 1 else 'ies'} now keep copies in {target}"
                 if changed else f"no backup policy keeps its copies in {active}: none needed moving")
        ctx.say(f"{moved}; {len(backups)} latest backup(s) are co-located with the servers in {active}")
        return Outcome(done=True, output={"region": str(active), "target_region": str(target) if target else None,
                                          "changed": changed, "colocated_backups": backups})


action = register(ReconfigureOffsite())
