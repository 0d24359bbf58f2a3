"""RQ jobs of the cloud app. Jobs carry ids only."""

from __future__ import annotations

from drportal.cloud.inventory_sync import sync_account
from drportal.inventory.models import ProviderAccount
from drportal.lib import clock


def sync_inventory(account_id: int, requested_by: str) -> str:
    account = ProviderAccount.objects.select_related("provider").get(pk=account_id)
    report = sync_account(account, clock.now(), f"job:sync_inventory#{account_id} for {requested_by}")
    return report.summary()
