"""GET /metrics for Prometheus, behind a bearer token of its own (METRICS_TOKEN), not a staff session."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest

from drportal.lib import clock
from drportal.metrics.collector import StatusCollector, pair_exposition

# A registry of our own: the process's default one (Python GC, process stats) is per gunicorn worker and
# would change with whichever worker answered.
REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(StatusCollector())


# Our names need no escaping, and Prometheus 2.x (Debian 12's) knows the 0.0.4 text format by name.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4


def _authorised(request: HttpRequest) -> bool:
    expected = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    scheme, _, token = given.partition(" ")
    return bool(expected) and scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(),
                                                                                 expected.encode())


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not settings.METRICS_TOKEN:
        return HttpResponse("Metrics are off: set METRICS_TOKEN (or METRICS_TOKEN_FILE) to turn them on.\n",
                            status=404, content_type="text/plain")
    if not _authorised(request):
        response = HttpResponse("A valid bearer token is needed: Authorization: Bearer <METRICS_TOKEN>.\n",
                                status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="drportal metrics"'
        return response
    pairs = pair_exposition(clock.now(), settings.METRICS_PAIR_LIMIT).encode()
    return HttpResponse(generate_latest(REGISTRY) + pairs, content_type=CONTENT_TYPE)
