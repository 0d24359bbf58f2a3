from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from drportal.cloud.adapters.errors import AdapterError
from drportal.cloud.inventory_sync import sync_account
from drportal.inventory.models import ProviderAccount
from drportal.lib import clock


class Command(BaseCommand):
    help = "List the account's nodes (libcloud) and RDS instances (boto3); create or update servers and managed " \
           "databases, and mark the ones that vanished."

    def add_arguments(self, parser):
        parser.add_argument("account", help="provider account name")

    def handle(self, *args, account: str, **options):
        try:
            target = ProviderAccount.objects.select_related("provider").get(name=account)
        except ProviderAccount.DoesNotExist:
            raise CommandError(f"account: no provider account named {account!r}") from None
        try:
            report = sync_account(target, clock.now(), f"command:sync_inventory#{target.name}")
        except AdapterError as exc:
            raise CommandError(f"{target.name}: {exc}") from None
        for line in report.skipped:
            self.stderr.write(f"skipped {line}")
        self.stdout.write(f"{target.name}: {report.summary()}")
