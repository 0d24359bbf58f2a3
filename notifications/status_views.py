"""The public status page: no login, cacheable for a minute by browsers and CDNs."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import csrf_exempt

from drportal.lib import clock
from notifications import public

CACHE = cache_control(public=True, max_age=60)


@CACHE
def index(request: HttpRequest) -> HttpResponse:
    now = clock.now()
    current, past = public.current_and_past(now)
    return render(request, "status/index.html", {"current": current, "past": past, "past_days": public.PAST_DAYS,
                                                 "maintenance": public.maintenance_windows(now), "now": now})


@CACHE
def incident(request: HttpRequest, pk: int) -> HttpResponse:
    found = public.with_updates(public.visible().filter(pk=pk)).first()
    if found is None:
        raise Http404("No such public incident")
    return render(request, "status/incident.html", {"incident": public.to_public(found)})


@CACHE
def feed(request: HttpRequest) -> HttpResponse:
    site = settings.SITE_URL.rstrip("/")
    atom = Atom1Feed(title="Service status", link=site + reverse("status:index"),
                     description="Incidents and updates", language="en",
                     feed_url=site + reverse("status:feed"))
    now = clock.now()
    current, past = public.current_and_past(now)
    entries = []
    for window in public.maintenance_windows(now):
        link = site + reverse("status:index") + f"#maintenance-{window.pk}"
        entries.append((window.created_at, f"Scheduled maintenance: {window.title}", link,
                        f"From {window.starts_at:%Y-%m-%d %H:%M} to {window.ends_at:%Y-%m-%d %H:%M} UTC. Affected: "
                        f"{', '.join(window.services) or 'our services'}. {window.body}", link))
    for item in current + past:
        link = site + reverse("status:incident", args=[item.pk])
        services = ", ".join(item.services) or "our services"
        entries.append((item.started_at, f"{item.headline} ({item.status_label})", link,
                        f"Affected: {services}. Started {item.started_at:%Y-%m-%d %H:%M} UTC.",
                        f"{link}#started"))
        for update in item.updates:
            entries.append((update.at, f"Update: {item.headline}", link, update.body,
                            f"{link}#u{update.at:%Y%m%d%H%M%S}"))
    for at, title, link, text, unique_id in sorted(entries, key=lambda e: e[0], reverse=True)[:100]:
        atom.add_item(title=title, link=link, description=text, pubdate=at, updateddate=at, unique_id=unique_id)
    return HttpResponse(atom.writeString("utf-8"), content_type="application/atom+xml; charset=utf-8")


def subscribe(request: HttpRequest) -> HttpResponse:
    """Sign up for e-mail updates; the answer is the same whether the address was known or not."""
    from notifications import subscribers
    from notifications.forms import SubscribeForm

    form = SubscribeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        subscribers.subscribe(form.cleaned_data["email"])
        return render(request, "status/subscribe.html", {"sent_to": form.cleaned_data["email"]})
    return render(request, "status/subscribe.html", {"form": form}, status=400 if form.errors else 200)


def confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks, POST confirms: a mail scanner opening the link confirms nothing."""
    from notifications import subscribers

    if request.method == "POST":
        sub = subscribers.confirm(token)
    else:
        sub = subscribers._read(token, subscribers.CONFIRM_SALT, subscribers.CONFIRM_MAX_AGE)
    if sub is None:
        return render(request, "notifications/link_error.html", {"reason": "This confirmation link is not valid "
                      "or has expired. Sign up again from the status page."}, status=410)
    return render(request, "status/confirm.html", {"subscriber": sub, "done": request.method == "POST"})


@csrf_exempt
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """One click: the button on this page, or a mail client's RFC 8058 one-click POST. The signed token is the
    credential, so CSRF protection would only stop the mail client."""
    from notifications import subscribers

    if request.method == "POST":
        sub = subscribers.unsubscribe(token)
    else:
        sub = subscribers.subscriber_for_unsubscribe(token)
    if sub is None:
        return render(request, "notifications/link_error.html", {"reason": "This unsubscribe link is not valid."},
                      status=410)
    return render(request, "status/unsubscribe.html", {"subscriber": sub, "done": request.method == "POST"})
