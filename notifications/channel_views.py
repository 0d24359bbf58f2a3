"""Admin page of Apprise channels: add, edit (the URL is write-only), switch off, and "Send test"."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from drportal.accounts.access import Role, roles
from drportal.audit import log as audit
from notifications.choices import Channel
from notifications.models import AppriseChannel, Delivery

ROLE_CHOICES = [("", "Every staff message"), *Role.choices]


class AppriseChannelForm(forms.ModelForm):
    url = forms.CharField(
        max_length=2000, required=False, strip=True, label="Apprise URL",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="e.g. slack://T…/B…/…, workflows://host:443/workflow/signature, pagerduty://integration@apikey. "
                  "Stored encrypted and never shown again; leave empty to keep the saved one.")
    role = forms.ChoiceField(choices=ROLE_CHOICES, required=False)

    class Meta:
        model = AppriseChannel
        fields = ["name", "role", "active"]

    def clean_url(self) -> str:
        import apprise

        url = self.cleaned_data["url"]
        if not url and not self.instance.pk:
            raise forms.ValidationError("A new channel needs its Apprise URL.")
        if url and not apprise.Apprise().add(url):
            raise forms.ValidationError("Apprise does not recognise this URL; see the Apprise wiki for the "
                                        "service's URL format.")
        return url


def _last_tests() -> dict[int, Delivery]:
    rows = Delivery.objects.filter(channel=Channel.APPRISE, page__dedupe_key__startswith="apprise-test:")
    return {int(d.address.split(":")[1]): d for d in rows.order_by("pk")}


@roles(Role.ADMIN)
def channel_list(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    row = get_object_or_404(AppriseChannel, pk=pk) if pk else None
    form = AppriseChannelForm(request.POST or None, instance=row)
    if request.method == "POST" and form.is_valid():
        _save(request, form)
        messages.success(request, f"Saved {form.instance.name}. Use “Send test” to check it reaches the service.")
        return redirect("notifications:apprise-channels")
    tests = _last_tests()
    channels = [(c, tests.get(c.pk)) for c in AppriseChannel.objects.all()]
    return render(request, "notifications/apprise_channels.html",
                  {"form": form, "editing": row, "channels": channels})


def _save(request: HttpRequest, form: AppriseChannelForm) -> None:
    before = audit.snapshot(form.instance, ["name", "role", "active"]) if form.instance.pk else None
    with transaction.atomic():
        channel = form.save(commit=False)
        url = form.cleaned_data["url"]
        if url:
            channel.set_url(url)
        channel.save()
        # The URL is a credential: the log says only that it changed, and the service it names.
        after = {**audit.snapshot(channel, ["name", "role", "active"]), "scheme": channel.scheme,
                 "url_changed": bool(url)}
        audit.record(request.user, "apprise_channel.saved", channel, before=before, after=after)


@require_POST
@roles(Role.ADMIN)
def channel_test(request: HttpRequest, pk: int) -> HttpResponse:
    from notifications.api import page

    channel = get_object_or_404(AppriseChannel, pk=pk)
    with transaction.atomic():
        sent = page(dedupe_key=f"apprise-test:{channel.pk}:{uuid.uuid4()}", subject="drportal test message",
                    body=f"A test from drportal to the channel {channel.name}, sent by {request.user}.",
                    recipients=[(Channel.APPRISE, channel.address)])
        audit.record(request.user, "apprise_channel.test", channel, after={"page": sent.pk if sent else None})
    messages.success(request, f"Test queued for {channel.name}; its result shows below once a worker sent it.")
    return redirect("notifications:apprise-channels")
