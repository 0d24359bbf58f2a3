"""Incidents from Prometheus Alertmanager's webhook (payload version 4, as documented at
https://prometheus.io/docs/alerting/latest/configuration/#webhook_config).

Each alert is matched against the rule table (AlertRule, first match by position). The rule gives the disaster
class, the severity and which label names what is down (a region, a zone or a server, looked up in the
inventory). Alerts of one rule and one scope fold into one open AlertProposal: a repeat of the same alert
(Alertmanager re-sends every group_interval) updates its row, another alert of the same scope joins it. A
proposal becomes an incident at once when its rule says auto-declare and the scope was found; otherwise ops
declare it with one click on the dashboard. Resolved alerts are recorded on the proposal; when every alert of
it is resolved the proposal says so, and the incident stays for people to close.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction

from drportal.audit import log as audit
from drportal.incidents import services as incidents
from drportal.lib.inputs import text_problem
from drportal.opsapi.choices import ProposalState, ScopeLabel
from drportal.opsapi.models import AlertProposal, AlertRule, ReceivedAlert

MAX_ALERTS = 1000  # Alertmanager's own max_alerts default is 0 (all); a group this large is a misconfiguration
ZERO_TIME = "0001-01-01T00:00:00Z"  # Alertmanager's "not set" for endsAt


class PayloadError(ValueError):
    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field, self.message = field_name, message


@dataclass
class Alert:
    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime | None
    ends_at: datetime | None
    generator_url: str
    fingerprint: str


@dataclass
class Outcome:
    received: int = 0
    unmatched: int = 0
    resolved_without_proposal: int = 0
    proposals: dict[int, dict] = field(default_factory=dict)

    def as_json(self) -> dict:
        return {"received": self.received, "unmatched": self.unmatched,
                "resolved_without_proposal": self.resolved_without_proposal,
                "proposals": list(self.proposals.values())}


def _time(value, where: str) -> datetime | None:
    if value in ("", ZERO_TIME):
        return None
    if not isinstance(value, str):
        raise PayloadError(where, "must be an RFC 3339 time")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise PayloadError(where, f"{value[:40]!r} is not an RFC 3339 time") from None
    if parsed.tzinfo is None or parsed.year < 2000:
        return None  # Go's zero time in another spelling, or no zone: treat as not set
    return parsed


def _strings(value, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise PayloadError(where, "must be an object of strings")
    for key, text in value.items():
        problem = text_problem(key) or text_problem(text) or ("is longer than 10,000 characters"
                                                               if len(text) > 10_000 else None)
        if problem:
            raise PayloadError(where, f"{key[:40]!r}: {problem}")
    return value


STATUSES = ("firing", "resolved")


def _texts(obj: dict, keys: tuple[str, ...], prefix: str) -> None:
    """Alertmanager always sends these as strings; anything else is not its webhook (they are not used beyond
    what parse() reads, so their content is not checked further)."""
    for key in keys:
        if key in obj and not isinstance(obj[key], str):
            raise PayloadError(f"{prefix}{key}", "must be a string")


def parse(payload) -> list[Alert]:
    if not isinstance(payload, dict) or not isinstance(payload.get("alerts"), list):
        raise PayloadError("alerts", "the body must be Alertmanager's webhook object with an \"alerts\" list")
    if len(payload["alerts"]) > MAX_ALERTS:
        raise PayloadError("alerts", f"at most {MAX_ALERTS} alerts per notification")
    _texts(payload, ("version", "groupKey", "receiver", "externalURL"), "")
    if "status" in payload and payload["status"] not in STATUSES:
        raise PayloadError("status", "must be \"firing\" or \"resolved\"")
    alerts = []
    for i, raw in enumerate(payload["alerts"]):
        where = f"alerts[{i}]"
        if not isinstance(raw, dict):
            raise PayloadError(where, "must be an object")
        _texts(raw, ("generatorURL", "fingerprint"), f"{where}.")
        status = raw.get("status", payload.get("status"))
        if status not in STATUSES:
            raise PayloadError(f"{where}.status", "must be \"firing\" or \"resolved\"")
        labels = _strings(raw.get("labels", {}), f"{where}.labels")
        if not labels:
            raise PayloadError(f"{where}.labels", "an alert needs labels")
        fingerprint = raw.get("fingerprint")
        if fingerprint is not None and not isinstance(fingerprint, str):
            raise PayloadError(f"{where}.fingerprint", "must be a string")
        if not isinstance(fingerprint, str) or not fingerprint or len(fingerprint) > 64 or text_problem(fingerprint):
            # Older Alertmanagers send none: the label set is what identifies an alert.
            fingerprint = hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]
        url = raw.get("generatorURL") or ""
        url = url if isinstance(url, str) and len(url) <= 1000 and not text_problem(url) else ""
        # Absent is allowed; null is not (Alertmanager sends {} and Go's zero time, never null).
        alerts.append(Alert(status, labels, _strings(raw.get("annotations", {}), f"{where}.annotations"),
                            _time(raw.get("startsAt", ""), f"{where}.startsAt"), _time(raw.get("endsAt", ""),
                                                                                        f"{where}.endsAt"),
                            url if isinstance(url, str) and url.startswith(("http://", "https://")) else "",
                            fingerprint))
    return alerts


def resolve_scope(rule: AlertRule, labels: dict[str, str]) -> tuple[str, dict[str, list[int]], str]:
    """(scope key, impacted ids by relation, note). The note says why the scope is unknown, if it is."""
    from drportal.inventory.models import Region, Server, Zone

    kind = rule.scope_label
    if kind == ScopeLabel.NONE:
        return "", {}, ""
    value = labels.get(kind, "").strip()
    if not value:
        return f"{kind}:", {}, f"the alert has no {kind!r} label, so what is down must be chosen by hand"
    parts = value.split("/")
    if kind == ScopeLabel.REGION:
        found = Region.objects.filter(slug=parts[-1], **({"provider__slug": parts[0]} if len(parts) > 1 else {}))
        relation = "regions"
    elif kind == ScopeLabel.ZONE:
        found = Zone.objects.filter(slug=parts[-1], **({"region__slug": parts[-2]} if len(parts) > 1 else {}))
        relation = "zones"
    else:
        found = Server.objects.filter(name=value)
        relation = "servers"
    ids = sorted(found.values_list("pk", flat=True)[:2])
    if len(ids) != 1:
        why = "is not in the inventory" if not ids else "names more than one (use provider/region/zone)"
        return f"{kind}:{value}", {}, f"{kind} {value!r} {why}; choose what is down by hand"
    return f"{kind}:{value}", {relation: ids}, ""


def _title(rule: AlertRule, alert: Alert, scope_key: str) -> str:
    what = alert.annotations.get("summary") or alert.labels.get("alertname") or rule.name
    where = scope_key.split(":", 1)[1] if ":" in scope_key else ""
    return (f"{what} ({where})" if where and where not in what else what)[:200]


def receive(payload, actor, now: datetime, rules: list[AlertRule] | None = None) -> Outcome:
    """Record every alert of one webhook call; declare what the rules say to. Raises PayloadError (nothing
    recorded) on a malformed body."""
    alerts = parse(payload)
    rules = rules if rules is not None else list(AlertRule.objects.filter(active=True).order_by("position", "name"))
    out = Outcome(received=len(alerts))
    for alert in alerts:
        rule = next((r for r in rules if r.matches(alert.labels)), None)
        if rule is None:
            out.unmatched += 1
            continue
        proposal = _fold(rule, alert, actor, now)
        if proposal is None:
            out.resolved_without_proposal += 1
            continue
        out.proposals[proposal.pk] = {"id": proposal.pk, "state": proposal.state, "incident": proposal.incident_id,
                                      "title": proposal.title, "resolved": proposal.resolved_at is not None}
    return out


def _open_proposal(rule: AlertRule, scope_key: str) -> AlertProposal | None:
    proposal = (AlertProposal.objects.select_for_update(of=("self",)).select_related("incident")
                .filter(rule=rule, scope_key=scope_key, state__in=[ProposalState.PROPOSED, ProposalState.DECLARED])
                .first())
    if proposal and proposal.state == ProposalState.DECLARED and not proposal.incident.is_open:
        AlertProposal.objects.filter(pk=proposal.pk).update(state=ProposalState.ENDED)
        return None
    return proposal


def _fold(rule: AlertRule, alert: Alert, actor, now: datetime) -> AlertProposal | None:
    scope_key, impacted, note = resolve_scope(rule, alert.labels)
    for _ in range(2):  # a racing insert of the same proposal: the second pass finds theirs
        try:
            with transaction.atomic():
                proposal = _open_proposal(rule, scope_key)
                created = False
                if proposal is None:
                    if alert.status == "resolved":
                        return None  # nothing open to record it on, and nothing to open for it
                    if not note and not rule.auto_declare:
                        note = "the rule proposes; ops declare"
                    proposal = AlertProposal.objects.create(
                        rule=rule, scope_key=scope_key, title=_title(rule, alert, scope_key),
                        disaster_class=rule.disaster_class, severity=rule.severity, impacted=impacted, note=note,
                        first_seen_at=now, last_seen_at=now)
                    created = True
                    audit.record(actor, "alert_proposal.created", proposal, after={
                        "rule": rule.name, "scope": scope_key, "title": proposal.title, "note": note})
                _record_alert(proposal, alert, now)
                _settle(proposal, actor, now)
                if created and rule.auto_declare and not note:
                    declare(proposal, actor, now)
                proposal.refresh_from_db()
                return proposal
        except IntegrityError:
            continue
    raise RuntimeError("could not fold the alert after a retry")


def _record_alert(proposal: AlertProposal, alert: Alert, now: datetime) -> None:
    existing = ReceivedAlert.objects.filter(proposal=proposal, fingerprint=alert.fingerprint).first()
    fields = {"status": alert.status, "labels": alert.labels, "annotations": alert.annotations,
              "starts_at": alert.starts_at, "ends_at": alert.ends_at, "generator_url": alert.generator_url,
              "last_received_at": now}
    if existing is None:
        ReceivedAlert.objects.create(proposal=proposal, fingerprint=alert.fingerprint, first_received_at=now,
                                     **fields)
    else:
        if existing.status != alert.status:
            audit.record("alertmanager", f"alert.{alert.status}", proposal, after={
                "fingerprint": alert.fingerprint, "alertname": alert.labels.get("alertname", ""),
                "ends_at": alert.ends_at.isoformat() if alert.ends_at else None})
        ReceivedAlert.objects.filter(pk=existing.pk).update(times_received=existing.times_received + 1, **fields)
    AlertProposal.objects.filter(pk=proposal.pk).update(last_seen_at=now)


def _settle(proposal: AlertProposal, actor, now: datetime) -> None:
    """Resolved when every alert folded into it is; firing again clears that."""
    firing = proposal.alerts.filter(status="firing").exists()
    if not firing and proposal.resolved_at is None:
        AlertProposal.objects.filter(pk=proposal.pk).update(resolved_at=now)
        audit.record(actor, "alert_proposal.resolved", proposal, after={"incident": proposal.incident_id,
                                                                         "resolved_at": now.isoformat()})
    elif firing and proposal.resolved_at is not None:
        AlertProposal.objects.filter(pk=proposal.pk).update(resolved_at=None)
        audit.record(actor, "alert_proposal.firing_again", proposal, after={"incident": proposal.incident_id})


def declare(proposal: AlertProposal, actor, now: datetime):
    """Make the proposal an incident (the auto-declare rule, or ops' click): once, whoever asks twice."""
    with transaction.atomic():
        locked = AlertProposal.objects.select_for_update().get(pk=proposal.pk)
        if locked.state != ProposalState.PROPOSED:
            return locked.incident
        alerts = list(locked.alerts.order_by("first_received_at"))
        lines = [f"Opened from Alertmanager by rule “{locked.rule.name}”."]
        lines += [f"- {a.labels.get('alertname', 'alert')} {a.status}: "
                  f"{a.annotations.get('description') or a.annotations.get('summary') or ''}".rstrip(": ")
                  for a in alerts]
        incident = incidents.declare(actor, title=locked.title, severity=locked.severity,
                                     disaster_class=locked.disaster_class, summary="\n".join(lines),
                                     impacted=locked.impacted or None)
        AlertProposal.objects.filter(pk=locked.pk).update(state=ProposalState.DECLARED, incident=incident,
                                                          decided_by=actor if hasattr(actor, "pk") else None)
        audit.record(actor, "alert_proposal.declared", locked, after={"incident": incident.pk})
    return incident


def dismiss(proposal: AlertProposal, actor, reason: str) -> bool:
    with transaction.atomic():
        if not AlertProposal.objects.filter(pk=proposal.pk, state=ProposalState.PROPOSED).update(
                state=ProposalState.DISMISSED, decided_by=actor, note=reason[:1000]):
            return False
        audit.record(actor, "alert_proposal.dismissed", proposal, after={"reason": reason})
    return True
