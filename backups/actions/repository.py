"""restore_repository: a code repository whose host is lost (Cybernance: "our local backups would be used to
recover") re-hosted from one of its mirrors: every branch and tag pushed to a new origin, which becomes the
repository's address in the inventory.

params: asset (the repository), mirror (the mirror asset to recover from; default the one most recently seen
in sync), target (the new origin's URL; file:// paths are created).
"""

from __future__ import annotations

import hashlib

from drportal.audit import log as audit
from drportal.cloud.actions.base import Outcome, StepContext, register
from drportal.cloud.actions.common import actor, bad_input, param
from drportal.cloud.adapters import deploy, git
from drportal.cloud.adapters.errors import AdapterError

NAME = "restore_repository"


def _source(ctx: StepContext):
    """(repository, mirror, newest in-sync record of that mirror) from the inventory and the backups catalogue."""
    from backups.models import BackupRecord
    from drportal.inventory.models import Asset

    name = param(ctx, "asset", required=True)
    repo = Asset.objects.filter(name=name).first()
    if repo is None:
        raise bad_input("params.asset", f"no asset {name!r}")
    mirrors = {m.name: m for m in repo.mirrors.exclude(external_id="")}
    if not mirrors:
        raise bad_input("params.asset", f"{name} has no mirror to recover from")
    wanted = param(ctx, "mirror")
    if wanted and wanted not in mirrors:
        raise bad_input("params.mirror", f"{wanted!r} is not a mirror of {name}")
    # A mirror counts as a recovery point only when the poller saw it equal to the origin (provider_state in_sync).
    records = BackupRecord.objects.filter(asset=repo, viable=True, container__in=[wanted] if wanted else list(mirrors))
    record = records.order_by("-recovery_point").first()
    if record is None:
        raise AdapterError(f"no mirror of {name} was ever seen in sync with its origin", permanent=True,
                           code="NoViableBackup")
    return repo, mirrors[record.container], record


class RestoreRepository:
    name = NAME
    title = "Re-host a code repository from its mirror"

    def plan(self, ctx: StepContext) -> list[str]:
        repo, mirror, record = _source(ctx)
        target = param(ctx, "target", required=True)
        return [f"Push every branch and tag of {mirror.name} ({mirror.external_id}, in sync with {repo.name} at "
                f"{record.recovery_point:%Y-%m-%d %H:%M} UTC) to the new origin {target}.",
                f"Record {target} as the address of {repo.name}."]

    def execute(self, ctx: StepContext) -> Outcome:
        repo, mirror, record = _source(ctx)
        target = param(ctx, "target", required=True)
        wanted = git.ls_remote(mirror.external_id)
        if not wanted:
            raise AdapterError(f"mirror {mirror.external_id} has no branches", permanent=True, code="EmptyMirror")
        have = _heads(target)
        if have != wanted:
            digest = hashlib.sha256(ctx.idempotency_key.encode()).hexdigest()[:16]
            git.copy_mirror(mirror.external_id, target, str(deploy.workdir() / f"repository-{digest}.git"))
            have = git.ls_remote(target)
            if have != wanted:
                raise AdapterError(f"{target} differs from {mirror.name} after the push", permanent=False,
                                   code="Diverged")
            ctx.say(f"pushed {len(wanted)} refs of {mirror.name} to {target}")
        else:
            ctx.say(f"{target} already holds every ref of {mirror.name}")
        if repo.external_id != target:
            before = audit.snapshot(repo, ["external_id"])
            repo.metadata = {**repo.metadata, "recovered_from": mirror.name, "previous_origin": repo.external_id}
            repo.external_id = target
            repo.save(update_fields=["external_id", "metadata"])
            audit.record(actor(NAME, ctx), "repository.rehosted", repo, before, {"external_id": target},
                         note=f"from {mirror.name}" + (f", incident {ctx.incident_id}" if ctx.incident_id else ""))
        return Outcome(done=True, output={"origin": target, "mirror": mirror.name, "refs": len(wanted),
                                          "in_sync_at": record.recovery_point.isoformat()})


def _heads(url: str) -> dict[str, str]:
    try:
        return git.ls_remote(url)
    except AdapterError:
        return {}  # not created yet


action = register(RestoreRepository())
