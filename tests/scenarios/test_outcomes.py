"""Honest outcomes: a recovery step with no target is "not applicable" with its reason, shown before Execute;
a run whose recovery step had nothing to act on ends "incomplete", saying what was not recovered; the run's
summary counts steps by outcome."""

from __future__ import annotations

import pytest
from django.urls import reverse

from drportal.incidents import services as incidents
from scenarios import engine
from scenarios.choices import RunState, StepState
from tests.scenarios.conftest import drain, scenario

pytestmark = pytest.mark.django_db(transaction=True)

STEPS = """\
- id: ask
  kind: decision
  title: Recover now?
  quote: "Jivasoft's staff would provision a replacement server"
  question: "Recover?"
  options:
    - {value: "yes", label: "Yes", next: [provision]}
    - {value: "no", label: "No", next: [wait]}
- id: wait
  kind: manual
  title: Wait it out
  quote: "no further action would be required"
  after: [ask]
  instructions: "Wait"
- id: provision
  kind: automated
  title: "Provision {server} again"
  quote: "Jivasoft's staff would provision a replacement server"
  after: [ask]
  action: simulated
  for_each: server
  params: {server: "{server}"}
"""
RECOVER = scenario("recover", STEPS)


@pytest.fixture
def library_of_recover(settings, tmp_path):
    """A scenario library holding only RECOVER, as the incident page reads it."""
    import textwrap

    from tests.scenarios.conftest import HEADER

    (tmp_path / "recover.yaml").write_text(HEADER.format(name="recover") + textwrap.dedent(STEPS))
    settings.SCENARIOS_DIR = tmp_path


def finish(run, alice):
    engine.decide(run.steps.get(step_id="ask").pk, alice, "yes")
    drain()
    run.refresh_from_db()
    return run


def test_a_run_whose_recovery_step_had_no_server_ends_incomplete_and_says_why(alice):
    incident = incidents.declare(alice, title="Something is down", disaster_class="server_crash")
    run, _ = engine.start_run(incident, RECOVER, alice)
    run = finish(run, alice)
    provision = run.steps.get(step_id="provision")
    assert provision.state == StepState.NOT_APPLICABLE
    assert "no server in the incident's scope" in provision.skip_reason
    assert provision.title == "Provision each server again"
    assert run.state == RunState.INCOMPLETE
    assert run.note.startswith("Not recovered: Provision each server again (no server")


def test_a_run_that_recovered_every_server_succeeds(alice, make_servers):
    servers = make_servers(2)
    incident = incidents.declare(alice, title="Two down", disaster_class="server_crash",
                                 impacted={"servers": servers})
    run, _ = engine.start_run(incident, RECOVER, alice)
    run = finish(run, alice)
    assert set(run.steps.filter(step_id="provision").values_list("state", flat=True)) == {StepState.SUCCEEDED}
    assert run.state == RunState.SUCCEEDED


def test_the_summary_counts_steps_by_outcome(alice, make_servers):
    incident = incidents.declare(alice, title="Two down", disaster_class="server_crash",
                                 impacted={"servers": make_servers(2)})
    run, _ = engine.start_run(incident, RECOVER, alice)
    run = finish(run, alice)
    rows = list(run.steps.all())
    assert engine.run_summary(run, rows, run.finished_at)["outcomes"] == [("done", 3), ("branch not taken", 1)]


def test_the_incident_page_lists_each_automated_steps_targets_before_execute(client_as, alice, make_servers,
                                                                             library_of_recover):
    web0, _web1 = make_servers(2)
    incident = incidents.declare(alice, title="web0 down", disaster_class="server_crash",
                                 impacted={"servers": [web0]})
    page = client_as("alice").get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert "Provision each server again: web0" in page
    assert "web1" not in page.split("What its automated steps would act on")[1].split("</details>")[0]


def test_the_incident_page_says_a_step_is_not_applicable_before_execute(client_as, alice, library_of_recover):
    incident = incidents.declare(alice, title="Nothing named", disaster_class="server_crash")
    page = client_as("alice").get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert "not applicable</span> no server in the incident&#x27;s scope" in page


def test_the_run_page_shows_what_was_not_recovered_never_succeeded(client_as, alice):
    incident = incidents.declare(alice, title="Something is down", disaster_class="server_crash")
    run, _ = engine.start_run(incident, RECOVER, alice)
    finish(run, alice)
    page = client_as("alice").get(reverse("scenarios:run", args=[run.pk])).content.decode()
    assert "Finished: not everything recovered" in page
    assert "Not everything was recovered." in page
    assert ">Succeeded<" not in page


RESTORE = scenario("restore", """\
- id: provision
  kind: automated
  title: "Provision {server} again"
  quote: "Jivasoft's staff would provision replacement servers"
  action: simulated
  for_each: server
  params: {server: "{server}"}
- id: restore
  kind: automated
  title: "Recover {database} (on {server})"
  quote: "Customer databases would be recovered from Cloud Storage"
  after: [provision]
  action: simulated
  for_each: database
  params: {asset: "{database}"}
""")


def test_a_server_without_customer_databases_has_nothing_to_restore_and_the_run_succeeds(alice, make_servers):
    incident = incidents.declare(alice, title="web0 down", disaster_class="server_crash",
                                 impacted={"servers": make_servers(1)})
    run, _ = engine.start_run(incident, RESTORE, alice)
    drain()
    run.refresh_from_db()
    restore = run.steps.get(step_id="restore")
    assert restore.state == StepState.NOT_APPLICABLE
    assert restore.skip_reason.endswith("nothing to restore")
    assert restore.title == "Recover each customer database"
    assert run.state == RunState.SUCCEEDED


def skip_open_steps(run, person, reason: str) -> None:
    """Skip whatever step of the run a person may skip now, until none is left."""
    while True:
        open_rows = list(run.steps.filter(state__in=(StepState.PENDING, StepState.READY, StepState.WAITING,
                                                     StepState.FAILED)).order_by("position", "item"))
        if not open_rows:
            return
        for step_row in open_rows:
            engine.skip_step(step_row.pk, person, reason=reason)


def test_a_recovery_step_skipped_by_a_person_ends_the_run_incomplete_naming_it(alice, make_servers):
    web0, _web1 = make_servers(2)
    incident = incidents.declare(alice, title="Two down", disaster_class="server_crash",
                                 impacted={"servers": [web0, _web1]})
    run, _ = engine.start_run(incident, RECOVER, alice)
    engine.decide(run.steps.get(step_id="ask").pk, alice, "yes")
    # The person skips one server's provisioning before a worker gets to it; the other is really done.
    engine.skip_step(run.steps.get(step_id="provision", item="web0").pk, alice, reason="rebuilt it by hand")
    drain()
    run.refresh_from_db()
    assert run.steps.get(step_id="provision", item="web1").state == StepState.SUCCEEDED
    assert run.state == RunState.INCOMPLETE
    assert run.note == "Not recovered: Provision web0 again (skipped by alice: rebuilt it by hand)"
    assert ("skipped by a person", 1) in engine.run_summary(run, list(run.steps.all()), run.finished_at)["outcomes"]


def test_a_run_whose_every_step_a_person_skipped_never_succeeds(alice, make_servers):
    incident = incidents.declare(alice, title="One down", disaster_class="server_crash",
                                 impacted={"servers": make_servers(1)})
    run, _ = engine.start_run(incident, RECOVER, alice)
    skip_open_steps(run, alice, "nobody looked")
    drain()
    run.refresh_from_db()
    assert set(run.steps.values_list("state", flat=True)) == {StepState.SKIPPED}
    assert run.state == RunState.INCOMPLETE
    assert "Provision web0 again (skipped by alice: nobody looked)" in run.note
    assert engine.run_summary(run, list(run.steps.all()), run.finished_at)["outcomes"] == [
        ("skipped by a person", 3)]


def test_after_a_skipped_recovery_step_the_incident_stays_open_on_every_page(client_as, alice, make_servers):
    incident = incidents.declare(alice, title="web0 down", disaster_class="server_crash",
                                 impacted={"servers": make_servers(1)}, public_summary="The app is down")
    run, _ = engine.start_run(incident, RECOVER, alice)
    engine.decide(run.steps.get(step_id="ask").pk, alice, "yes")
    engine.skip_step(run.steps.get(step_id="provision").pk, alice, reason="rebuilt it by hand")
    client = client_as("alice")
    run_page = client.get(reverse("scenarios:run", args=[run.pk])).content.decode()
    incident_page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    status_page = client.get(reverse("status:incident", args=[incident.pk])).content.decode()
    assert "Finished: not everything recovered" in run_page
    assert "Provision web0 again</a>: skipped by alice: rebuilt it by hand" in run_page
    assert ">Succeeded<" not in run_page
    incident.refresh_from_db()
    assert incident.status == "responding"
    assert "The run finished without recovering everything" in incident_page
    assert "Not recovered: Provision web0 again (skipped by alice: rebuilt it by hand)" in incident_page
    assert "Resolved" not in status_page


def handing_over(followed: bool):
    """A restore whose action hands over to restoring from cloud storage; with `followed`, a step takes it up."""
    follower = """\
- id: from-storage
  kind: automated
  title: "Restore {server} from cloud storage"
  quote: "Customer databases would be recovered from Cloud Storage"
  after: [restore]
  on_handover_from: restore
  action: simulated
  for_each: server
  params: {server: "{server}"}
""" if followed else ""
    return scenario("handover-followed" if followed else "handover-dropped", """\
- id: restore
  kind: automated
  title: "Move the volume of {server}"
  quote: "Customer databases would be recovered from Cloud Storage"
  action: simulated
  for_each: server
  params: {server: "{server}", handover: restore_from_cloud_storage}
""" + follower)


def run_handing_over(alice, servers, *, followed: bool):
    incident = incidents.declare(alice, title="web0 down", disaster_class="server_crash",
                                 impacted={"servers": servers})
    run, _ = engine.start_run(incident, handing_over(followed), alice)
    drain()
    run.refresh_from_db()
    return run


def test_a_handover_no_step_takes_up_ends_the_run_incomplete(alice, make_servers):
    run = run_handing_over(alice, make_servers(1), followed=False)
    assert run.steps.get().state == StepState.SUCCEEDED
    assert run.state == RunState.INCOMPLETE
    assert run.note == ("Not recovered: Move the volume of web0 (handed over to restore_from_cloud_storage, which "
                        "no step of this run does)")


def test_a_handover_a_step_takes_up_lets_the_run_succeed(alice, make_servers):
    run = run_handing_over(alice, make_servers(1), followed=True)
    assert run.steps.get(step_id="from-storage").state == StepState.SUCCEEDED
    assert run.state == RunState.SUCCEEDED


def start_handing_over(alice, servers, *, keeps: tuple[str, ...] = ()):
    """A followed handover over `servers`; the volumes of `keeps` survived: their restore does not hand over
    (the row is what the worker reads, written before any worker sees it)."""
    incident = incidents.declare(alice, title="Servers down", disaster_class="server_crash",
                                 impacted={"servers": servers})
    run, _ = engine.start_run(incident, handing_over(True), alice)
    for name in keeps:
        row = run.steps.get(step_id="restore", item=name)
        row.params = {"server": name}
        row.save(update_fields=["params"])
    return run


def test_a_follow_up_restores_only_the_items_that_were_handed_over_to_it(alice, make_servers):
    run = start_handing_over(alice, make_servers(3), keeps=("web1",))
    drain()
    run.refresh_from_db()
    follow_up = {r.item: (r.state, r.skip_reason) for r in run.steps.filter(step_id="from-storage")}
    assert follow_up == {"web0": (StepState.SUCCEEDED, ""),
                         "web1": (StepState.SKIPPED, "branch not taken: restore recovered web1 without handing over"),
                         "web2": (StepState.SUCCEEDED, "")}
    assert run.state == RunState.SUCCEEDED
    assert engine.run_summary(run, list(run.steps.all()), run.finished_at)["outcomes"] == [
        ("done", 3), ("handed over", 2), ("branch not taken", 1)]


def test_a_handed_over_item_the_follow_up_did_not_do_ends_the_run_incomplete_naming_it(alice, make_servers):
    run = start_handing_over(alice, make_servers(2))
    # A person skips web1's restore from cloud storage before a worker gets to it: web1 is recovered by nothing.
    engine.skip_step(run.steps.get(step_id="from-storage", item="web1").pk, alice, reason="no time")
    drain()
    run.refresh_from_db()
    assert run.steps.get(step_id="from-storage", item="web0").state == StepState.SUCCEEDED
    assert run.state == RunState.INCOMPLETE
    assert run.note == ("Not recovered: Move the volume of web1 (handed over to restore_from_cloud_storage, which "
                        "from-storage did not do); Restore web1 from cloud storage (skipped by alice: no time)")


def test_the_run_page_shows_a_handed_over_step_as_handed_over_never_as_done(client_as, alice, make_servers):
    run = start_handing_over(alice, make_servers(1))
    drain()
    page = client_as("alice").get(reverse("scenarios:run", args=[run.pk])).content.decode()
    assert "1 done, 1 handed over" in page
    assert '<span class="badge s-handed_over">handed over</span> <small>to restore_from_cloud_storage</small>' in page


def test_a_handover_for_a_database_that_no_longer_exists_fails_the_follow_up_and_never_succeeds(alice, make_servers):
    from drportal.inventory.models import Asset

    web0, = make_servers(1)
    Asset.objects.create(name="db-gone", kind="database", server=web0)
    run, _ = engine.start_run(
        incidents.declare(alice, title="web0 down", disaster_class="server_crash", impacted={"servers": [web0]}),
        scenario("handover-real", """\
- id: restore
  kind: automated
  title: "Recover {database} from the volume"
  quote: "recover the databases from attached storage"
  action: simulated
  for_each: database
  params: {asset: "{database}", handover: restore_from_cloud_storage}
- id: from-storage
  kind: automated
  title: "Restore {database} from Cloud Storage"
  quote: "they would be recovered from Cloud Storage"
  after: [restore]
  on_handover_from: restore
  action: restore_database
  for_each: database
  params: {asset: "{database}"}
"""), alice)
    # The database is dropped from the inventory after the run was started for it.
    Asset.objects.filter(name="db-gone").delete()
    drain()
    run.refresh_from_db()
    follow_up = run.steps.get(step_id="from-storage")
    assert follow_up.state == StepState.FAILED
    assert follow_up.error == "params.asset: no asset 'db-gone' (permanent, BadInput)"
    assert run.state == RunState.FAILED


BY_HAND = scenario("by-hand", """\
- id: recreate
  kind: manual
  recovers: true
  title: Re-create the changes made since the image
  quote: "staff will document and re-create the changes"
  instructions: "Re-create every change since the image"
- id: review
  kind: manual
  title: Meet to review the cause of the crash
  quote: "Jivosoft staff will meet to review"
  instructions: "Hold the review"
""")


def by_hand_run(alice, make_servers):
    incident = incidents.declare(alice, title="web0 down", disaster_class="server_crash",
                                 impacted={"servers": make_servers(1)})
    return engine.start_run(incident, BY_HAND, alice)[0]


def test_a_skipped_manual_recovery_step_ends_the_run_incomplete_naming_it(alice, make_servers):
    run = by_hand_run(alice, make_servers)
    engine.skip_step(run.steps.get(step_id="recreate").pk, alice, reason="no time tonight")
    engine.complete_step(run.steps.get(step_id="review").pk, alice)
    run.refresh_from_db()
    assert run.state == RunState.INCOMPLETE
    assert run.note == "Not recovered: Re-create the changes made since the image (skipped by alice: no time tonight)"


def test_a_skipped_informational_manual_step_leaves_the_run_succeeded(alice, make_servers):
    run = by_hand_run(alice, make_servers)
    engine.complete_step(run.steps.get(step_id="recreate").pk, alice)
    engine.skip_step(run.steps.get(step_id="review").pk, alice, reason="held it next week")
    run.refresh_from_db()
    assert run.state == RunState.SUCCEEDED


def test_recovers_on_a_step_that_is_not_manual_is_refused_by_the_validator():
    from scenarios import loader
    from tests.scenarios.conftest import HEADER

    _, errors = loader.parse(HEADER.format(name="bad") + """\
- id: ask
  kind: decision
  recovers: true
  title: Recover?
  quote: "Jivosoft staff would contact Rackspace first"
  question: "Recover?"
  options:
    - {value: "yes", label: "Yes", next: []}
""", "bad.yaml", loader.installed_actions())
    assert any("'recovers' was unexpected" in str(e) for e in errors), errors


def test_before_execute_the_plan_says_a_follow_up_acts_only_on_what_is_handed_over(alice, make_servers):
    incident = incidents.declare(alice, title="web0 down", disaster_class="server_crash",
                                 impacted={"servers": make_servers(1)})
    steps = {step["id"]: step for step in engine.plan(incident, handing_over(True))}
    assert steps["from-storage"]["title"] == ("Restore each server from cloud storage (only those the earlier step "
                                              "hands over)")
    assert steps["from-storage"]["targets"] == ["web0"]


def test_a_follow_up_fanning_out_over_something_else_than_its_source_is_refused():
    from scenarios import loader
    from tests.scenarios.conftest import HEADER

    _, errors = loader.parse(HEADER.format(name="mismatch") + """\
- id: restore
  kind: automated
  title: "Recover {database}"
  quote: "Customer databases would be recovered from Cloud Storage"
  action: simulated
  for_each: database
  params: {asset: "{database}"}
- id: from-storage
  kind: automated
  title: "Restore {server} from cloud storage"
  quote: "Customer databases would be recovered from Cloud Storage"
  after: [restore]
  on_handover_from: restore
  action: simulated
  for_each: server
  params: {server: "{server}"}
""", "mismatch.yaml", loader.installed_actions())
    assert [e.reason for e in errors] == [
        "step 'from-storage' follows the handover of 'restore' item by item: both must fan out over the same thing "
        "(for_each), or 'from-storage' not at all"]


def test_a_notice_a_person_sent_by_hand_counts_as_done_and_an_actions_handover_as_handed_over():
    from scenarios.models import StepRun

    by_hand = StepRun(kind="notify", state=StepState.SUCCEEDED, outputs={"handover": "send by hand"})
    moved = StepRun(kind="automated", state=StepState.SUCCEEDED, outputs={"handover": "restore_from_cloud_storage"})
    assert (engine.step_outcome(by_hand), engine.step_outcome(moved)) == ("done", "handed_over")
