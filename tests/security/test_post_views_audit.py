"""Every state-changing POST view writes an AuditEvent. The POST-only views are found in the URL table (a GET
answers 405); each has a recipe below that sets up what it acts on and posts a valid form as a person allowed
to. A new POST-only view without a recipe fails the first test: adding one means saying how it is audited.
Form views that also answer GET (declare, tokens, the mitigations register) are exercised the same way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import django_rq
import pytest
from django.urls import reverse
from rq import SimpleWorker

from drportal.audit.models import AuditEvent
from drportal.lib import clock
from tests.accounts.test_role_matrix import ALL_URLS, sample_url
from tests.backups.conftest import world  # noqa: F401 - a fixture, fetched by name in a recipe

pytestmark = pytest.mark.django_db

# POST-only URLs that change nothing of ours, with the reason.
READ_ONLY = {
    "logout": "ends the session (and, after single sign-on, the provider's); no state of the application",
}
# POST-only URLs that change state without an AuditEvent, knowingly. Each is in the proof report to the lead.
NOT_AUDITED = {
    "api:backups": "token-authenticated, not a session POST: tests/backups/test_api_ingest.py checks its events "
                   "(backups.record_ingested, backups.records_ingested)",
    "api:alertmanager": "token-authenticated, not a session POST: tests/opsapi/test_alertmanager.py checks its "
                        "events (alert_proposal.created, incident.declared, alert.resolved)",
    "api:incident-run": "token-authenticated: tests/opsapi/test_api.py checks scenario_run.started",
    "api:step-action": "token-authenticated: tests/opsapi/test_api.py checks the scenario_step events",
}
SKIP_NAMESPACES = ("admin", "django_rq")


@dataclass
class Post:
    url: str
    data: dict
    who: str                 # a user of tests/conftest.py allowed to post it
    action: str              # the AuditEvent.action expected
    after: Callable[[], None] | None = None  # work the view queued (a job), run before looking


def _incident(users):
    from drportal.incidents import services

    return services.declare(users["alice"], title="Server down", disaster_class="server_crash")


def _manual_run(users):
    from scenarios import engine
    from tests.scenarios.conftest import scenario

    run, _ = engine.start_run(_incident(users), scenario("audit", """\
- id: ask
  kind: manual
  title: Ask the provider
  quote: "Jivasoft would contact Rackspace to determine the cause of the server outage."
  instructions: "Call them"
"""), users["alice"])
    return run


def _shipped_scenario() -> str:
    from scenarios import loader

    return sorted(loader.library().scenarios)[0]


def transition(users, request):
    incident = _incident(users)
    return Post(reverse("incidents:transition", args=[incident.pk]), {"to": "responding"}, "alice",
                "incident.responding")


def request_verification(users, request):
    from tests.backups.conftest import record

    w = request.getfixturevalue("world")
    rec = record(w.daily, w.acme_db, clock.now() - timedelta(hours=3), zone=w.dfw1)
    return Post(reverse("backups:verify", args=[rec.pk]), {}, "alice", "backups.restore_test_requested")


def point_suspect(users, request):
    from tests.backups.conftest import record

    w = request.getfixturevalue("world")
    rec = record(w.daily, w.acme_db, clock.now() - timedelta(hours=3), zone=w.dfw1)
    return Post(reverse("scenarios:point-suspect", args=[rec.pk]), {"reason": "written after the intrusion"},
                "alice", "backup.marked_suspect")


def revoke_token(users, request):
    from backups.models import IngestToken

    token, _ = IngestToken.issue("agent", policy=request.getfixturevalue("world").daily)
    return Post(reverse("backups:token-revoke", args=[token.pk]), {}, "alice", "backups.token_revoked")


def execute(users, request):
    incident = _incident(users)
    return Post(reverse("scenarios:execute", args=[incident.pk]), {"scenario": _shipped_scenario()}, "alice",
                "scenario_run.started")


def step_action(users, request):
    step = _manual_run(users).steps.get()
    return Post(reverse("scenarios:step-action", args=[step.pk, "complete"]), {"notes": "called"}, "alice",
                "scenario_step.completed")


def run_action(users, request):
    run = _manual_run(users)
    return Post(reverse("scenarios:run-action", args=[run.pk, "pause"]), {}, "mona", "scenario_run.paused")


def mitigation_checked(users, request):
    from scenarios.models import Mitigation

    item = Mitigation.objects.create(slug="bi-insurance", kind="insurance", title="Business interruption insurance",
                                     owner="CFO")
    return Post(reverse("scenarios:mitigation-checked", args=[item.pk]), {}, "mona", "mitigation.checked")


def drill_start(users, request):
    return Post(reverse("scenarios:drill-start", args=[_shipped_scenario()]), {}, "alice", "scenario_run.started")


def drill_bubble(users, request):
    return Post(reverse("scenarios:drill-bubble", args=[_shipped_scenario()]), {}, "mona", "scenario_run.started")


def drill_teardown(users, request):
    from scenarios import drills, engine, loader

    drill = drills.start_drill(loader.library().get(_shipped_scenario()), users["alice"], bubble=True)
    engine.abort(drill.run_id, users["alice"], reason="rehearsal over")
    return Post(reverse("scenarios:drill-teardown", args=[drill.pk]), {}, "mona", "drill.torn_down")


def connection_check(users, request):
    from drportal.inventory.models import Provider, ProviderAccount

    provider = Provider.objects.create(slug="sim", name="Simulated", kind="simulated")
    account = ProviderAccount.objects.create(provider=provider, name="sim", driver="simulated",
                                             options={"latency_s": 0, "locations": ["dfw"]})
    return Post(reverse("cloud:test-connection", args=[account.pk]), {}, "alice", "cloud.connection_checked")


def cloud_sync(users, request):
    from drportal.cloud.models import SimNode
    from drportal.inventory.models import Provider, ProviderAccount

    provider = Provider.objects.create(slug="sim", name="Simulated", kind="simulated")
    account = ProviderAccount.objects.create(provider=provider, name="sim", driver="simulated",
                                             options={"latency_s": 0, "locations": ["dfw"]})
    now = clock.now()
    SimNode.objects.create(account=account, node_id="sim-1", name="found1", image_id="i", size_id="4GB",
                           location="dfw", created_at=now, ready_at=now)

    def run_the_job():
        conn = django_rq.get_connection("default")
        SimpleWorker([django_rq.get_queue("default")], connection=conn).work(burst=True)

    return Post(reverse("cloud:sync", args=[account.pk]), {}, "ada", "server.discovered", run_the_job)


def _customer(slug: str = "acme"):
    from drportal.inventory.models import Customer, CustomerContact

    customer = Customer.objects.create(slug=slug, name=slug.title())
    CustomerContact.objects.create(customer=customer, name="Ops", email=f"ops@{slug}.example")
    return customer


def _notice(users, with_recipient: bool = False):
    from notifications import notices

    notice = notices.create_notice(users["sam"], _incident(users), "outage_declared", template=None, timeline="")
    if with_recipient:
        notices.set_recipient(users["sam"], notice, _customer("zeta"), included=True)
    return notice


def notice_new(users, request):
    incident = _incident(users)
    return Post(reverse("notifications:notice-new", args=[incident.pk]), {"kind": "outage_declared"}, "sam",
                "notice.created")


def notice_recipient(users, request):
    notice = _notice(users)
    customer = _customer()
    return Post(reverse("notifications:notice-recipient", args=[notice.pk]), {"customer": customer.slug,
                                                                             "action": "add"}, "sam",
                "notice.recipient_added")


def notice_queue(users, request):
    notice = _notice(users, with_recipient=True)
    return Post(reverse("notifications:notice-queue", args=[notice.pk]), {}, "sam", "notice.queued")


def delivery_action(users, request):
    from notifications.models import Delivery

    delivery = Delivery.objects.create(notice=_notice(users), channel="email", address="ops@acme.example",
                                       state="in_doubt",
                                       subject="Outage", body_text="Down", created_at=clock.now())
    return Post(reverse("notifications:delivery-action", args=[delivery.pk, "mark_delivered"]), {}, "sam",
                "delivery.mark_delivered")


def send_checkins(users, request):
    from drportal.incidents import services
    from drportal.inventory.models import Person

    Person.objects.create(name="Pat", email="pat@example.test")
    incident = services.declare(users["alice"], title="Office dark", disaster_class="office_power_internet")
    return Post(reverse("notifications:checkins-send", args=[incident.pk]), {}, "alice", "checkin.links_sent")


def status_update(users, request):
    incident = _incident(users)
    return Post(reverse("notifications:status-update", args=[incident.pk]), {"body": "We are restoring service."},
                "alice", "status.update_posted")


def export_link(users, request):
    from notifications.models import CustomerExport

    export = CustomerExport.objects.create(customer=_customer(), requested_by=users["sam"], requested_at=clock.now(),
                                           state="ready")
    return Post(reverse("notifications:export-link", args=[export.pk]), {}, "sam", "export.link_issued")


def report_unsubscribe(users, request):
    from backups.models import ReportSubscription

    item = ReportSubscription.objects.create(user=users["mona"], frequency="weekly", created_at=clock.now())
    return Post(reverse("backups:report-unsubscribe", args=[item.pk]), {}, "mona", "compliance_report.unsubscribed")


def maintenance_cancel(users, request):
    from notifications.models import Maintenance

    now = clock.now()
    item = Maintenance.objects.create(title="Upgrade", body="x", starts_at=now + timedelta(days=1),
                                      ends_at=now + timedelta(days=1, hours=1), created_by=users["sam"], created_at=now)
    return Post(reverse("notifications:maintenance-cancel", args=[item.pk]), {}, "sam", "maintenance.cancelled")


def _alert_proposal(users):
    from drportal.opsapi.models import AlertProposal, AlertRule

    rule = AlertRule.objects.create(name="Server down", matchers={"alertname": "InstanceDown"},
                                    disaster_class="server_crash", scope_label="")
    now = clock.now()
    return AlertProposal.objects.create(rule=rule, scope_key="", title="InstanceDown", disaster_class="server_crash",
                                        severity="sev2", first_seen_at=now, last_seen_at=now)


def proposal_declare(users, request):
    proposal = _alert_proposal(users)
    return Post(reverse("opsapi:proposal-declare", args=[proposal.pk]), {}, "alice", "alert_proposal.declared")


def proposal_dismiss(users, request):
    proposal = _alert_proposal(users)
    return Post(reverse("opsapi:proposal-dismiss", args=[proposal.pk]), {"reason": "a probe was down"}, "alice",
                "alert_proposal.dismissed")


def widen(users, request):
    from drportal.inventory.models import Provider, Region, Zone

    provider = Provider.objects.create(slug="rackspace", name="Rackspace", kind="rackspace")
    zone = Zone.objects.create(region=Region.objects.create(provider=provider, slug="dfw", name="Dallas"),
                               slug="dfw2", name="Dallas 2")
    incident = _incident(users)
    return Post(reverse("incidents:widen", args=[incident.pk]), {"impacted_zones": [zone.pk]}, "alice",
                "incident.widened")


def api_token_revoke(users, request):
    from drportal.opsapi import tokens

    token, _ = tokens.issue("old tool", role="ops", created_by=users["ada"])
    return Post(reverse("opsapi:token-revoke", args=[token.pk]), {}, "ada", "api_token.revoked")
def apprise_test(users, request):
    from notifications.models import AppriseChannel

    channel = AppriseChannel(name="ops-chat")
    channel.set_url("json://127.0.0.1:9/hook")
    channel.save()
    return Post(reverse("notifications:apprise-channel-test", args=[channel.pk]), {}, "ada", "apprise_channel.test")


POST_ONLY = {
    "notifications:apprise-channel-test": apprise_test,
    "notifications:notice-new": notice_new,
    "notifications:notice-recipient": notice_recipient,
    "notifications:notice-queue": notice_queue,
    "notifications:delivery-action": delivery_action,
    "notifications:checkins-send": send_checkins,
    "notifications:status-update": status_update,
    "notifications:maintenance-cancel": maintenance_cancel,
    "backups:report-unsubscribe": report_unsubscribe,
    "opsapi:proposal-declare": proposal_declare,
    "incidents:widen": widen,
    "scenarios:point-suspect": point_suspect,
    "opsapi:token-revoke": api_token_revoke,
    "opsapi:proposal-dismiss": proposal_dismiss,
    "notifications:export-link": export_link,
    "incidents:transition": transition,
    "backups:verify": request_verification,
    "backups:token-revoke": revoke_token,
    "scenarios:execute": execute,
    "scenarios:step-action": step_action,
    "scenarios:run-action": run_action,
    "scenarios:mitigation-checked": mitigation_checked,
    "scenarios:drill-start": drill_start,
    "scenarios:drill-bubble": drill_bubble,
    "scenarios:drill-teardown": drill_teardown,
    "cloud:sync": cloud_sync,
    "cloud:test-connection": connection_check,
}


def declare_form(users, request):
    return Post(reverse("incidents:declare"), {"title": "Datacenter dark", "disaster_class": "server_crash",
                                                "severity": "sev1", "summary": "Dallas is down"}, "alice",
                "incident.declared")


def token_form(users, request):
    policy = request.getfixturevalue("world").daily
    return Post(reverse("backups:tokens"), {"name": "nightly agent", "policy": policy.pk}, "alice",
                "backups.token_issued")


def mitigation_form(users, request):
    form = {"slug": "insurance", "kind": "insurance", "title": "Insurance", "owner": "CFO", "renews_on": "2027-01-01",
            "check_every_days": 90}
    return Post(reverse("scenarios:mitigations"), form, "mona", "mitigation.created")


def report_subscribe_form(users, request):
    return Post(reverse("backups:report-subscriptions"), {"frequency": "weekly"}, "mona",
                "compliance_report.subscribed")


def api_token_form(users, request):
    return Post(reverse("opsapi:tokens"), {"name": "alertmanager", "role": "ops"}, "ada", "api_token.issued")


def maintenance_form(users, request):
    return Post(reverse("notifications:maintenance"), {"title": "Upgrade", "body": "Read-only for 30 minutes.",
                                                       "starts_at": "2027-01-02T01:00", "ends_at": "2027-01-02T02:00"},
                "sam", "maintenance.scheduled")


FORMS = {"incidents:declare": declare_form, "backups:tokens": token_form, "scenarios:mitigations": mitigation_form,
         "backups:report-subscriptions": report_subscribe_form, "notifications:maintenance": maintenance_form,
         "opsapi:tokens": api_token_form}
def apprise_form(users, request):
    return Post(reverse("notifications:apprise-channels"), {"name": "ops-chat", "url": "json://127.0.0.1:9/hook",
                                                            "role": "ops", "active": "on"}, "ada",
                "apprise_channel.saved")


FORMS = {"incidents:declare": declare_form, "backups:tokens": token_form, "scenarios:mitigations": mitigation_form,
         "notifications:apprise-channels": apprise_form}


def test_every_post_only_view_has_a_recipe(client, users):
    client.force_login(users["ada"])
    found = set()
    for name, pattern in ALL_URLS:
        if name.split(":", 1)[0] in SKIP_NAMESPACES:
            continue
        url = sample_url(name, pattern)
        if url and client.get(url).status_code == 405:
            found.add(name)
    assert found - set(READ_ONLY) - set(NOT_AUDITED) == set(POST_ONLY)


@pytest.fixture(autouse=True)
def clean_queues():
    for name in ("high", "default"):
        django_rq.get_connection(name).flushdb()
    yield
    for name in ("high", "default"):
        django_rq.get_connection(name).flushdb()


@pytest.mark.parametrize("name", sorted(POST_ONLY) + sorted(FORMS))
def test_a_state_changing_post_writes_an_audit_event(name, client, users, request,
                                                    django_capture_on_commit_callbacks):
    post = {**POST_ONLY, **FORMS}[name](users, request)
    before = AuditEvent.objects.count()
    client.force_login(users[post.who])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(post.url, post.data)
    assert response.status_code in (200, 302), response.content[:500]
    if post.after:
        post.after()
    events = AuditEvent.objects.order_by("id")[before:]
    actions = [e.action for e in events]
    assert post.action in actions, (name, actions)
    mine = [e for e in events if e.action == post.action]
    if not post.after:  # done in the request: by the person who posted it
        assert mine[0].actor == users[post.who]
