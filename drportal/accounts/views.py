from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from drportal.accounts.access import ALL_STAFF, roles
from drportal.accounts.forms import ProfileForm, zone_choices
from drportal.accounts.models import Profile
from drportal.audit import log as audit

ZONES = [z for z, _ in zone_choices() if z]


@roles(*ALL_STAFF)
def profile(request: HttpRequest) -> HttpResponse:
    mine, _ = Profile.objects.get_or_create(user=request.user)
    before = {"time_zone": mine.time_zone, "phone": mine.phone}
    form = ProfileForm(request.POST or None, instance=mine)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            saved = form.save()
            audit.record(request.user, "profile.update", saved, before=before,
                         after={"time_zone": saved.time_zone, "phone": saved.phone})
        messages.success(request, f"Saved. Times are now shown in {saved.time_zone or settings.DISPLAY_TIME_ZONE}.")
        return redirect("accounts:profile")
    current = form["time_zone"].value() or ""
    return render(request, "accounts/profile.html", {
        "form": form, "default_zone": settings.DISPLAY_TIME_ZONE, "zones": ZONES, "current_zone": current})
