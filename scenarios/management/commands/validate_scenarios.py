"""`manage.py validate_scenarios [FILE ...]`: check the scenario files; exit 1 on any error (CI runs it)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from scenarios import loader


class Command(BaseCommand):
    help = "Check scenario files against docs/scenario.schema.json and the step-graph rules."

    def add_arguments(self, parser) -> None:
        parser.add_argument("files", nargs="*", help="files to check (default: every file in scenarios/library/)")

    def handle(self, *args, files: list[str], **options) -> None:
        registry = loader.installed_actions()
        errors: list[loader.ScenarioError] = []
        checked = 0
        if files:
            for name in files:
                path = Path(name)
                try:
                    text = path.read_text(encoding="utf-8")
                except OSError as exc:
                    raise CommandError(f"{name}: cannot read: {exc}") from exc
                scenario, found = loader.parse(text, name, registry)
                errors += found
                checked += 1
                for warning in scenario.warnings if scenario else []:
                    self.stdout.write(f"warning: {warning}")
        else:
            lib = loader.load_dir()
            errors = lib.errors
            checked = len(lib.scenarios) + len({e.file for e in errors})
            for scenario in lib.scenarios.values():
                for warning in scenario.warnings:
                    self.stdout.write(f"warning: {warning}")
        for error in errors:
            self.stderr.write(str(error))
        if errors:
            files_with = len({e.file for e in errors})
            raise CommandError(f"{len(errors)} error(s) in {files_with} of {checked} scenario file(s)")
        self.stdout.write(f"{checked} scenario file(s) OK")
