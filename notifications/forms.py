from __future__ import annotations

from django import forms
from django.urls import reverse_lazy

from drportal.inventory.models import Customer
from notifications import templating
from notifications.choices import Channel, NoticeKind, WorkLocation
from notifications.models import Notice, NoticeTemplate

VARIABLES_HELP = "Variables: " + templating.help_text()


class NoticeTemplateForm(forms.ModelForm):
    class Meta:
        model = NoticeTemplate
        fields = ["name", "kind", "subject", "body_text", "body_html"]
        widgets = {"body_text": forms.Textarea(attrs={"rows": 10}), "body_html": forms.Textarea(attrs={"rows": 6})}


class NewNoticeForm(forms.Form):
    kind = forms.ChoiceField(choices=NoticeKind.choices)
    template = forms.ModelChoiceField(NoticeTemplate.objects.all(), required=False,
                                      help_text="Empty: the default template of this kind.")
    timeline = forms.CharField(required=False, max_length=500)

    def clean(self):
        data = super().clean()
        template = data.get("template")
        if template is not None and template.kind != data.get("kind"):
            self.add_error("template", f"this template is for {template.get_kind_display()!r} notices")
        return data


class NoticeForm(forms.ModelForm):
    channels = forms.MultipleChoiceField(
        choices=[(Channel.EMAIL, "Email"), (Channel.SMS, "SMS")], widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Notice
        fields = ["subject", "body_text", "body_html", "timeline", "channels"]
        widgets = {"body_text": forms.Textarea(attrs={"rows": 12}), "body_html": forms.Textarea(attrs={"rows": 6}),
                   "timeline": forms.TextInput()}


class RecipientForm(forms.Form):
    customer = forms.ModelChoiceField(Customer.objects.all(), to_field_name="slug")
    action = forms.ChoiceField(choices=[("add", "add"), ("remove", "remove")])


class StatusUpdateForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000,
                           help_text="Public: shown on the status page. No server names or internal details.")


class CheckInForm(forms.Form):
    location = forms.ChoiceField(choices=WorkLocation.choices, widget=forms.RadioSelect,
                                 label="Where are you working from?")
    location_note = forms.CharField(required=False, max_length=200, label="Where exactly (for 'other')")
    has_power = forms.TypedChoiceField(choices=[("yes", "Yes"), ("no", "No")], coerce=lambda v: v == "yes",
                                       widget=forms.RadioSelect, label="Do you have power there?")
    has_internet = forms.TypedChoiceField(choices=[("yes", "Yes"), ("no", "No")], coerce=lambda v: v == "yes",
                                          widget=forms.RadioSelect, label="Do you have Internet there?")

    def clean(self):
        data = super().clean()
        if data.get("location") == WorkLocation.OTHER and not data.get("location_note"):
            self.add_error("location_note", "say where, when you choose 'other'")
        return data


class ExportRequestForm(forms.Form):
    # A text field with suggestions, not a <select> of every customer: thousands of options made the page
    # slow to render and hard to use. The suggestions come from inventory:customer-options (htmx).
    customer = forms.ModelChoiceField(
        Customer.objects.all(), to_field_name="slug",
        help_text="Type part of the customer's name or identifier and pick a suggestion.",
        error_messages={"invalid_choice": "No customer has that identifier: pick one of the suggestions."},
        widget=forms.TextInput(attrs={
            "list": "customer-options", "autocomplete": "off",
            "hx-get": reverse_lazy("inventory:customer-options"), "hx-trigger": "input changed delay:300ms",
            "hx-target": "#customer-options", "hx-swap": "innerHTML"}))


class SubscribeForm(forms.Form):
    email = forms.EmailField(max_length=254, label="Your e-mail address")


class MaintenanceForm(forms.ModelForm):
    class Meta:
        from notifications.models import Maintenance

        model = Maintenance
        fields = ["title", "body", "services", "starts_at", "ends_at"]
        widgets = {"body": forms.Textarea(attrs={"rows": 3}),
                   "starts_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
                   "ends_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")}
        labels = {"starts_at": "Starts (your time zone)", "ends_at": "Ends (your time zone)",
                  "services": "Components"}

    def __init__(self, *args, **kwargs):
        from drportal.inventory.models import Service

        super().__init__(*args, **kwargs)
        # Only what customers know by name can be named on the public page.
        self.fields["services"].queryset = Service.objects.exclude(public_name="").order_by("public_name")
        self.fields["services"].label_from_instance = lambda s: s.public_name

    def clean(self):
        data = super().clean()
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", "the window must end after it starts")
        return data
