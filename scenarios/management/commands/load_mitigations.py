"""`manage.py load_mitigations [FILE]`: put the plans' standing mitigations in the register."""

from __future__ import annotations

from pathlib import Path

import yaml
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from drportal.audit import log as audit
from scenarios.choices import MitigationKind
from scenarios.models import Mitigation

DEFAULT = Path(__file__).resolve().parents[2] / "mitigations.yaml"


class Command(BaseCommand):
    help = "Load standing mitigations from YAML (by slug; dates people set are kept)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", nargs="?", default=str(DEFAULT))

    def handle(self, *args, file: str, **options) -> None:
        items = yaml.safe_load(Path(file).read_text())
        if not isinstance(items, list):
            raise CommandError(f"{file}: expected a list of mitigations")
        for i, item in enumerate(items, 1):
            missing = {"slug", "title", "kind", "owner"} - set(item)
            if missing:
                raise CommandError(f"{file}: item {i}: missing {', '.join(sorted(missing))}")
            if item["kind"] not in MitigationKind.values:
                raise CommandError(f"{file}: item {i}: kind {item['kind']!r} is not one of {MitigationKind.values}")
        created = 0
        with transaction.atomic():
            for item in items:
                obj, made = Mitigation.objects.update_or_create(slug=item["slug"], defaults={
                    "title": item["title"], "kind": item["kind"], "owner": item["owner"],
                    "quote": item.get("quote", "")})
                created += made
                if made:
                    audit.record("command:load_mitigations", "mitigation.created", obj, after=item)
        self.stdout.write(f"{len(items)} mitigation(s), {created} new")
