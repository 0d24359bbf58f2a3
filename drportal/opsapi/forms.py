from __future__ import annotations

from django import forms
from django.contrib.auth.models import User

from drportal.accounts.access import Role


class TokenForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="What uses it, e.g. “alertmanager” or “paging bot”.")
    user = forms.ModelChoiceField(User.objects.filter(is_active=True).order_by("username"), required=False,
                                  help_text="Acts as this person, with their roles at each call.")
    role = forms.ChoiceField(choices=[("", "—"), *Role.choices], required=False,
                             help_text="Or: acts as a service user of its own holding this role.")

    def clean(self):
        data = super().clean()
        if bool(data.get("user")) == bool(data.get("role")):
            raise forms.ValidationError("choose a user or a role (one of them)")
        return data
