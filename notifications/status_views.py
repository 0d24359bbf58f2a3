"""The public status page: no login, cacheable for a minute by browsers and CDNs."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.views.decorators.cache import cache_control

from drportal.lib import clock
from notifications import public

CACHE = cache_control(public=True, max_age=60)


@CACHE
def index(request: HttpRequest) -> HttpResponse:
    current, past = public.current_and_past(clock.now())
    return render(request, "status/index.html", {"current": current, "past": past, "past_days": public.PAST_DAYS})


@CACHE
def incident(request: HttpRequest, pk: int) -> HttpResponse:
    found = public._with_updates(public.visible().filter(pk=pk)).first()
    if found is None:
        raise Http404("No such public incident")
    return render(request, "status/incident.html", {"incident": public.to_public(found)})


@CACHE
def feed(request: HttpRequest) -> HttpResponse:
    site = settings.SITE_URL.rstrip("/")
    atom = Atom1Feed(title="Service status", link=site + reverse("status:index"),
                     description="Incidents and updates", language="en",
                     feed_url=site + reverse("status:feed"))
    current, past = public.current_and_past(clock.now())
    entries = []
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
