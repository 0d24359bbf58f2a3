"""The backups app's records as the cloud's catalogue of copies (drportal.cloud.copies), registered at ready()."""

from __future__ import annotations

from backups.choices import Outcome, PolicyKind
from backups.models import BackupRecord, BackupSource
from drportal.cloud import copies


def images(server_name: str):
    return (BackupRecord.objects.filter(asset__server__name=server_name, asset__kind="server",
                                        policy__kind=PolicyKind.SYSTEM_IMAGE, outcome=Outcome.SUCCEEDED)
            .exclude(key=""))


def dumps(asset):
    return BackupRecord.objects.filter(asset=asset, viable=True, outcome=Outcome.SUCCEEDED).exclude(key="")


def account_of_container(container: str) -> str | None:
    found = (BackupSource.objects.filter(container=container).exclude(account=None)
             .select_related("account").first())
    return found.account.name if found else None


def register() -> None:
    copies.register(copies.Catalogue(images=images, dumps=dumps, account_of_container=account_of_container))
