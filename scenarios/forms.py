from __future__ import annotations

from django import forms
from django.forms import inlineformset_factory

from scenarios.models import FollowUp, Mitigation, Review


class MitigationForm(forms.ModelForm):
    class Meta:
        model = Mitigation
        fields = ["slug", "title", "kind", "owner", "renews_on", "last_checked_on", "check_every_days", "quote",
                  "notes"]
        widgets = {"renews_on": forms.DateInput(attrs={"type": "date"}),
                   "last_checked_on": forms.DateInput(attrs={"type": "date"})}


class ReviewForm(forms.ModelForm):
    class Meta:
        model = Review
        fields = ["cause", "changes_recreated", "prevention"]
        labels = {"cause": "Cause of the incident",
                  "changes_recreated": "Changes made since the last image, and re-created",
                  "prevention": "What should be done to avoid a repetition"}


FollowUpFormSet = inlineformset_factory(
    Review, FollowUp, fields=["text", "owner", "due_on", "done"], extra=2, can_delete=True,
    widgets={"due_on": forms.DateInput(attrs={"type": "date"})},
)
