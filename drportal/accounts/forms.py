from __future__ import annotations

import zoneinfo

from django import forms

from drportal.accounts.models import Profile


def zone_choices() -> list[tuple[str, str]]:
    return [("", "The installation's default")] + [(z, z) for z in sorted(zoneinfo.available_timezones())]


class ProfileForm(forms.ModelForm):
    time_zone = forms.ChoiceField(label="Time zone", required=False, choices=zone_choices,
                                  help_text="Every time in drportal is shown in this zone.")

    class Meta:
        model = Profile
        fields = ["time_zone", "phone"]
        labels = {"phone": "Phone (for paging)"}
