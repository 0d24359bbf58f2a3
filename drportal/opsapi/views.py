from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from drportal.accounts.access import ALL_STAFF, Role, has_role, roles
from drportal.lib import clock, inputs
from drportal.opsapi import alertmanager, tokens
from drportal.opsapi.choices import ProposalState
from drportal.opsapi.models import AlertProposal, AlertRule

MAX_BODY_BYTES = 2 * 1024 * 1024
UNAUTHORIZED = "a valid, unrevoked API token is required (Authorization: Bearer dra_...)"


def error(status: int, message: str, field: str = "") -> JsonResponse:
    body: dict = {"error": message}
    if field:
        body["errors"] = [{"field": field, "message": message}]
    return JsonResponse(body, status=status)


@csrf_exempt
def alertmanager_webhook(request: HttpRequest) -> JsonResponse:
    """POST /api/v1/alerts/alertmanager: Alertmanager's webhook_config, with
    `http_config: {authorization: {credentials: dra_...}}`. The token must hold the ops role."""
    if request.method != "POST":
        response = error(405, "use POST")
        response["Allow"] = "POST"
        return response
    user = tokens.user_for(request)
    if user is None:
        return error(401, UNAUTHORIZED)
    if not has_role(user, Role.OPS):
        return error(403, "this token's user or role may not open incidents (ops or admin only)")
    length = request.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > MAX_BODY_BYTES:
        return error(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        # The shared input boundary: size and nesting are refused before the (recursive) parser sees the text.
        payload = inputs.load_json(request.body, max_bytes=MAX_BODY_BYTES)
        outcome = alertmanager.receive(payload, user, clock.now())
    except inputs.InputError as exc:
        return error(400, f"nothing was recorded: the body {exc.message}", exc.field)
    except alertmanager.PayloadError as exc:
        return error(400, f"nothing was recorded: {exc.message}", exc.field)
    return JsonResponse(outcome.as_json(), status=200)


@roles(*ALL_STAFF)
def proposals(request: HttpRequest) -> HttpResponse:
    """Incidents proposed by alerts, with the alerts folded into each, and the rule table."""
    rows = (AlertProposal.objects.select_related("rule", "incident", "decided_by")
            .prefetch_related("alerts").order_by("-last_seen_at")[:100])
    return render(request, "opsapi/proposals.html", {
        "proposals": rows, "rules": AlertRule.objects.all(), "can_declare": has_role(request.user, Role.OPS)})


@require_POST
@roles(Role.OPS)
def proposal_declare(request: HttpRequest, pk: int) -> HttpResponse:
    proposal = get_object_or_404(AlertProposal, pk=pk)
    if proposal.state != ProposalState.PROPOSED:
        messages.info(request, f"This proposal is already {proposal.get_state_display().lower()}.")
        return redirect("opsapi:proposals")
    incident = alertmanager.declare(proposal, request.user, clock.now())
    messages.success(request, f"Incident #{incident.pk} declared from the alert.")
    return redirect("incidents:detail", pk=incident.pk)


@require_POST
@roles(Role.OPS)
def proposal_dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    proposal = get_object_or_404(AlertProposal, pk=pk)
    reason = request.POST.get("reason", "").strip()
    if not reason:
        messages.error(request, "reason: say why this alert is not an incident")
    elif alertmanager.dismiss(proposal, request.user, reason):
        messages.success(request, "Dismissed.")
    return redirect("opsapi:proposals")


@roles(Role.ADMIN)
def api_tokens(request: HttpRequest) -> HttpResponse:
    """Issue and revoke API tokens; a new token is shown on this page once."""
    from drportal.opsapi.forms import TokenForm
    from drportal.opsapi.models import ApiToken

    form = TokenForm(request.POST or None)
    raw = None
    if request.method == "POST" and form.is_valid():
        _, raw = tokens.issue(form.cleaned_data["name"], user=form.cleaned_data["user"],
                              role=form.cleaned_data["role"], created_by=request.user)
        form = TokenForm()
    listing = ApiToken.objects.select_related("user").order_by("revoked_at", "name")
    response = render(request, "opsapi/tokens.html", {"form": form, "tokens": listing, "raw": raw})
    response["Cache-Control"] = "no-store"  # the raw token is on this page once
    return response


@require_POST
@roles(Role.ADMIN)
def api_token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    from drportal.opsapi.models import ApiToken

    token = get_object_or_404(ApiToken, pk=pk)
    if tokens.revoke(token, request.user):
        messages.success(request, f"Token {token} revoked.")
    return redirect("opsapi:tokens")
