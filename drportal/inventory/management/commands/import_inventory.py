"""manage.py import_inventory [--check] [--adopt] FILE [FILE...]: load inventory documents (docs/inventory.md).

All files are applied in one transaction: if any is refused, none is stored, and every error of every file
is printed (file:line field: problem) before the command exits non-zero. With --check the import runs in full
(every check, every model validation) and is then rolled back: what it would do is printed, nothing is kept.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from drportal.inventory.importer import COMMAND_ACTOR, InventoryError, import_inventory


class _DryRun(Exception):
    """Raised to roll back a --check run that succeeded."""


class Command(BaseCommand):
    help = "Import inventory YAML documents; re-importing updates in place. A bad file changes nothing."

    def add_arguments(self, parser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE")
        parser.add_argument("--check", action="store_true", help="check and report, then roll everything back")
        parser.add_argument("--adopt", action="store_true",
                            help="let these documents change (and take over) objects another organisation's "
                                 "document created")

    def handle(self, *args, files: list[str], check: bool = False, adopt: bool = False, **options) -> None:
        errors: list[str] = []
        summaries: list[str] = []
        try:
            with transaction.atomic():
                for name in files:
                    try:
                        with open(name, encoding="utf-8") as fh:
                            text = fh.read()
                    except (OSError, UnicodeDecodeError) as exc:
                        errors.append(f"{name}: cannot read the file: {exc}")
                        continue
                    try:
                        summaries.append(f"{name}: {import_inventory(text, COMMAND_ACTOR, source=name, adopt=adopt)}")
                    except InventoryError as exc:
                        errors.extend(exc.errors)
                if errors:
                    raise InventoryError(errors)
                if check:
                    raise _DryRun
        except InventoryError:
            for line in errors:
                self.stderr.write(line)
            raise CommandError(f"{len(errors)} error(s); nothing was imported") from None
        except _DryRun:
            for line in summaries:
                self.stdout.write(f"{line} (check only: nothing was kept)")
            return
        for line in summaries:
            self.stdout.write(line)
