from __future__ import annotations

from datetime import timedelta

from django import forms

from backups.models import BackupPolicy, IngestToken, validate_cron


class PolicyForm(forms.ModelForm):
    """Durations are asked in hours and days, which is how the plans state them."""

    grace_hours = forms.FloatField(min_value=0.01, label="Grace (hours)")
    rpo_hours = forms.FloatField(min_value=0.01, label="RPO objective (hours)")
    retention_days = forms.FloatField(min_value=0.01, label="Retention (days)")
    verify_days = forms.FloatField(min_value=0.01, required=False, label="Restore-tested within (days)",
                                   help_text="empty: no verification rule")

    class Meta:
        model = BackupPolicy
        fields = ["name", "kind", "description", "schedule", "time_zone", "location_rule", "target_region", "active"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        p = self.instance
        if p.pk:
            self.initial.update(grace_hours=p.grace.total_seconds() / 3600, rpo_hours=p.rpo_objective.total_seconds()
                                / 3600, retention_days=p.retention.total_seconds() / 86400,
                                verify_days=p.verify_within.total_seconds() / 86400 if p.verify_within else None)
        self.fields["schedule"].widget.attrs.update({
            "hx-get": "/backups/policies/cron-preview/", "hx-trigger": "keyup changed delay:400ms, change",
            "hx-target": "#cron-preview", "hx-include": "[name=time_zone]", "autocomplete": "off",
        })

    def clean_schedule(self) -> str:
        value = " ".join(self.cleaned_data["schedule"].split())
        validate_cron(value)
        return value

    def clean(self):
        data = super().clean()
        if "grace_hours" in data:
            self.instance.grace = timedelta(hours=data["grace_hours"])
        if "rpo_hours" in data:
            self.instance.rpo_objective = timedelta(hours=data["rpo_hours"])
        if "retention_days" in data:
            self.instance.retention = timedelta(days=data["retention_days"])
        verify = data.get("verify_days")
        self.instance.verify_within = timedelta(days=verify) if verify else None
        return data


class TokenForm(forms.Form):
    name = forms.CharField(max_length=200)
    policy = forms.ModelChoiceField(BackupPolicy.objects.all(), required=False)
    account = forms.ModelChoiceField(queryset=None, required=False, label="Provider account")

    def __init__(self, *args, **kwargs):
        from drportal.inventory.models import ProviderAccount

        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = ProviderAccount.objects.all()

    def clean(self):
        data = super().clean()
        if bool(data.get("policy")) == bool(data.get("account")):
            raise forms.ValidationError("Scope the token to one policy or one provider account.")
        return data

    def issue(self, user) -> tuple[IngestToken, str]:
        return IngestToken.issue(self.cleaned_data["name"], policy=self.cleaned_data.get("policy"),
                                 account=self.cleaned_data.get("account"), created_by=user)


class ReportSubscriptionForm(forms.ModelForm):
    class Meta:
        from backups.models import ReportSubscription

        model = ReportSubscription
        fields = ["frequency", "policies", "customers"]
        help_texts = {"policies": "None chosen: every policy.", "customers": "None chosen: every customer."}
