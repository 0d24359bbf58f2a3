from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone")


class Profile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    time_zone = models.CharField(max_length=64, blank=True, validators=[validate_time_zone])
    phone = models.CharField(max_length=32, blank=True)
    # The identity provider's `sub` for users who sign in with single sign-on (drportal.accounts.sso).
    oidc_subject = models.CharField(max_length=255, null=True, blank=True, unique=True, editable=False)

    def __str__(self) -> str:
        return f"profile of {self.user}"
