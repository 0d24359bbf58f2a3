"""Issue an API token for /api/v1/ (incidents, runs, Alertmanager): bound to a user, or to a role."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from drportal.accounts.access import Role
from drportal.opsapi import tokens


class Command(BaseCommand):
    help = "Issue an API token (printed once; only its digest is kept)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name")
        bound = parser.add_mutually_exclusive_group(required=True)
        bound.add_argument("--user", help="act as this user, with their roles at each call")
        bound.add_argument("--role", choices=Role.values, help="act as a service user holding this role")

    def handle(self, *args, name: str, user: str | None, role: str | None, **options) -> None:
        owner = None
        if user:
            owner = User.objects.filter(username=user).first()
            if owner is None:
                raise CommandError(f"no user {user!r}")
        token, raw = tokens.issue(name, user=owner, role=role or "", created_by="manage.py api_token")
        self.stdout.write(f"{raw}\n")
        self.stderr.write(f"token {token} acts as {token.user.username}; shown once, keep it in a secret store")
