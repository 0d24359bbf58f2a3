from __future__ import annotations

from datetime import timedelta

from django import forms
from django.urls import reverse_lazy

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


# A subscription names at most this many customers: more is a list nobody reads in an e-mail, and "every
# customer" (the field left empty) covers them all.
MAX_SUBSCRIBED_CUSTOMERS = 100
# Unknown names listed one by one in the form's errors; beyond that, counted.
MAX_NAME_ERRORS = 20


def split_names(text: str) -> list[str]:
    """The comma-separated entries of a customer list, stripped, empty ones and repeats dropped."""
    return list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))


class CustomerNamesField(forms.CharField):
    """Several customers typed as a comma-separated list of names (or identifiers), with suggestions: not a
    <select> of every customer, which at 50,000 customers took seconds to render (issue 17). Cleans to the
    customers, in the order typed; every entry that names no customer, or more than one, is an error of its
    own, and the text typed comes back as it was."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(strip=True, **kwargs)

    def clean(self, value):
        from django.db.models import Q
        from django.db.models.functions import Lower

        from drportal.inventory.models import Customer

        text = super().clean(value)
        names = split_names(text)
        if not names:
            if text:
                raise forms.ValidationError("No customer name in what you typed: leave the field empty for every "
                                            "customer, or type names separated by commas.")
            return []
        if len(names) > MAX_SUBSCRIBED_CUSTOMERS:
            raise forms.ValidationError(
                f"{len(names):,} customers named: a subscription names at most {MAX_SUBSCRIBED_CUSTOMERS}. Leave "
                "the field empty for every customer.")
        lowered = [n.lower() for n in names]
        found = Customer.objects.annotate(lname=Lower("name")).filter(Q(slug__in=names) | Q(lname__in=lowered))
        by_slug, by_name = {}, {}
        for customer in found.only("pk", "slug", "name"):
            by_slug[customer.slug] = customer
            by_name.setdefault(customer.name.lower(), []).append(customer)
        chosen, errors = [], []
        for name in names:
            match = [by_slug[name]] if name in by_slug else by_name.get(name.lower(), [])
            if len(match) == 1:
                chosen.append(match[0])
            elif match:
                slugs = ", ".join(sorted(c.slug for c in match))
                errors.append(f"{len(match)} customers are named \u201c{name}\u201d: type one of their identifiers "
                              f"instead ({slugs}).")
            else:
                errors.append(f"No customer is named \u201c{name[:200]}\u201d: pick one of the suggestions.")
        if len(errors) > MAX_NAME_ERRORS:
            errors = [*errors[:MAX_NAME_ERRORS], f"and {len(errors) - MAX_NAME_ERRORS} more names not found."]
        if errors:
            raise forms.ValidationError(errors)
        return list(dict.fromkeys(chosen))


class ReportSubscriptionForm(forms.ModelForm):
    customers = CustomerNamesField(
        help_text="Type customer names separated by commas and pick the suggestions; empty: every customer.",
        widget=forms.TextInput(attrs={
            "list": "report-customer-options", "autocomplete": "off",
            "hx-get": reverse_lazy("backups:report-customer-options"), "hx-trigger": "input changed delay:300ms",
            "hx-target": "#report-customer-options", "hx-swap": "innerHTML"}))

    class Meta:
        from backups.models import ReportSubscription

        model = ReportSubscription
        fields = ["frequency", "policies", "customers"]
        help_texts = {"policies": "None chosen: every policy."}
