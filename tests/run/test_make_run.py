"""The real `make run`, as a newcomer starts it: embedded PostgreSQL and Redis in a fresh var/, every child
process, the sinks. Each child and each embedded server is killed with SIGKILL and must be back (and /healthz
green) within 30 s without anyone touching it; a runbook started before a kill completes; SIGTERM to the
process group leaves nothing behind, and a second start is clean."""

from __future__ import annotations

import os
import re
import shutil
import signal
import tempfile
import textwrap
from pathlib import Path

import pytest

from drportal.cloud.devpeers import free_port
from tests.run.support import MakeRun, alive, post_form, processes_using, wait_for

BACK_WITHIN_S = 30

START_RUN = textwrap.dedent('''
    import json
    from django.contrib.auth.models import User
    from drportal.incidents.models import Incident
    from drportal.lib import clock
    from scenarios import engine, loader
    text = """\\
    id: supervisor-check
    title: Recover jv-web1 in Kansas City while make run's processes are killed
    disaster_class: server_crash
    trigger: "A test"
    objectives: {rto_minutes: 30, rpo_minutes: 60}
    owner: ops
    last_reviewed: 2026-01-01
    steps:
    - id: provision
      kind: automated
      title: Provision jv-web1 from its newest image
      quote: "provision a replacement server using the most recent, viable system image"
      action: provision_from_image
      params: {"server": "jv-web1", "region": "rackspace/mci"}
    """
    scenario, errors = loader.parse(text, "check.yaml", loader.installed_actions())
    assert not errors, errors
    ops = User.objects.get(username="ops")
    incident = Incident.objects.create(title="jv-web1 lost", severity="sev2", disaster_class="server_crash",
                                       status="declared", declared_at=clock.now(), declared_by=ops)
    run, _ = engine.start_run(incident, scenario, ops, drill=True)
    print("RUN", run.pk)
''')


@pytest.fixture(scope="module")
def demo():
    # Not under pytest's numbered basetemp: another pytest session on the machine may prune it (it keeps the
    # newest three), and would delete the embedded PostgreSQL's files under it mid-test.
    var = Path(tempfile.mkdtemp(prefix="drportal-make-run-"))
    run = MakeRun(var, free_port())
    run.start()
    try:
        run.wait_until_up()
        yield run
    finally:
        if run.process.poll() is None:
            run.stop()
        shutil.rmtree(var, ignore_errors=True)


def kill_and_wait_back(demo: MakeRun, name: str) -> int:
    before = demo.status()[name]
    os.kill(before, signal.SIGKILL)

    def back() -> int | None:
        pid = demo.status()[name]
        return pid if pid and pid != before and alive(pid) and demo.healthy() else None

    return wait_for(back, BACK_WITHIN_S, f"{name} restarted and /healthz green after a SIGKILL")


RAW = re.compile(r"Traceback|\b\w+(?:Error|Exception)\b|HTTPSConnectionPool|\[Errno|Signature=|\?Action=")


def test_the_dashboard_of_a_fresh_demo_has_every_plan_it_can_run_ready_a_month_of_history_and_no_raw_error(demo):
    ops = demo.session("ops")

    def dashboard() -> str | None:
        page = ops.get(f"{demo.base}/", timeout=10).text
        count = re.search(r'tile-value">(\d+)</span> <span class="tile-label">Plans not ready', page)
        not_ready = re.findall(r'not ready</span> <a href="[^"]*">([^<]+)</a>', page)
        # The return-home plans (issue 18) act only after a failover: before one there is nothing in the
        # failed region to return to, and readiness says so. Cybernance's rebuilds run its playbook
        # (ansible-playbook, not on this machine) and reach RDS through its real AWS account (no credentials
        # here: the simulated cloud stands in for the servers only): readiness says so instead of "ready" and a
        # failure at the first step. Every other plan for an outage must be ready.
        excused = [t for t in not_ready if ("return" in t.lower() and "home" in t.lower()) or "Cybernance" in t]
        outage_plans_ready = excused == not_ready and "ansible-playbook is not installed on this machine" in page
        return page if count and int(count.group(1)) == len(not_ready) and outage_plans_ready else None

    # The accounts' first connection checks run on the scheduler's first ticks.
    page = wait_for(dashboard, 120, "every outage plan of the demo ready", every=2)
    main = re.sub(r"<details.*?</details>", "", page, flags=re.S)
    assert not RAW.search(main), RAW.search(main)
    assert "no data yet" not in page
    days = demo.sql("SELECT count(DISTINCT day) FROM backups_dailyrollup WHERE observed_seconds > 0")[0][0]
    assert days >= 30


def test_a_runbook_started_before_the_worker_is_killed_completes(demo):
    run_id = int(demo.manage("shell", stdin=START_RUN).split("RUN", 1)[1].split()[0])
    wait_for(lambda: demo.sql("SELECT state FROM scenarios_steprun WHERE run_id = %s", (run_id,))[0][0] != "pending",
             60, "the worker taking up the runbook's step")
    kill_and_wait_back(demo, "worker")
    state = wait_for(lambda: (demo.sql("SELECT state FROM scenarios_run WHERE id = %s", (run_id,))[0][0]
                              not in ("running", "paused")) and
                     demo.sql("SELECT state FROM scenarios_run WHERE id = %s", (run_id,))[0][0],
                     180, "the runbook finishing after the worker's restart", every=1)
    assert state == "succeeded", demo.sql("SELECT step_id, state, error FROM scenarios_steprun WHERE run_id = %s",
                                          (run_id,))


@pytest.mark.parametrize("name", ["scheduler", "simulated DNS", "mail and message sinks", "simulated backup agents",
                                  "stand-in database servers", "web server"])
def test_a_child_killed_with_sigkill_is_started_again(demo, name):
    kill_and_wait_back(demo, name)
    assert f"{name} was killed by SIGKILL; starting it again" in demo.log()


def test_the_embedded_redis_killed_with_sigkill_is_started_again_and_work_still_gets_done(demo):
    kill_and_wait_back(demo, "embedded Redis")
    wait_for(lambda: all(demo.status().values()), BACK_WITHIN_S, "every process up again")
    run_id = int(demo.manage("shell", stdin=START_RUN.replace("jv-web1", "jv-web2")).split("RUN", 1)[1].split()[0])
    wait_for(lambda: demo.sql("SELECT state FROM scenarios_run WHERE id = %s", (run_id,))[0][0] == "succeeded",
             180, "a runbook started after the Redis restart finishing", every=1)


def test_the_embedded_postgresql_killed_with_sigkill_is_started_again(demo):
    kill_and_wait_back(demo, "embedded PostgreSQL")
    # The web server kept serving through it: pages answer again without a restart of their own.
    assert demo.session("support").get(f"{demo.base}/outbox/", timeout=10).status_code == 200


def test_support_sends_the_dallas_outage_notice_and_the_outbox_shows_one_message_per_delivery(demo):
    incident = int(demo.manage("shell", stdin=textwrap.dedent('''
        from django.contrib.auth.models import User
        from drportal.incidents import services
        from drportal.inventory.models import Region
        dallas = Region.objects.get(slug="dfw")
        incident = services.declare(User.objects.get(username="ops"), impacted={"regions": [dallas]},
                                    title="Rackspace Dallas offline", severity="sev1",
                                    disaster_class="datacenter_offline")
        print("INCIDENT", incident.pk)
    ''')).split("INCIDENT", 1)[1].split()[0])
    support = demo.session("support")
    detail = f"{demo.base}/incidents/{incident}/"
    created = post_form(support, detail, f"{demo.base}/notifications/incidents/{incident}/notices/new/",
                        {"kind": "outage_declared"})
    notice_url = created.url
    notice = int(notice_url.rstrip("/").rsplit("/", 1)[1])
    queued = post_form(support, notice_url, f"{notice_url}queue/", {})
    assert "messages queued" in queued.text

    def all_arrived() -> bool:
        deliveries = demo.sql("SELECT count(*), count(*) FILTER (WHERE state = 'sent') "
                              "FROM notifications_delivery WHERE notice_id = %s", (notice,))[0]
        return deliveries[0] > 0 and deliveries[0] == deliveries[1]

    wait_for(all_arrived, 60, "every delivery of the notice sent", every=1)
    addresses = sorted(a for (a,) in demo.sql("SELECT address FROM notifications_delivery WHERE notice_id = %s",
                                              (notice,)))
    received = sorted(to for (to,) in demo.sql(
        "SELECT o.to FROM outbox_outboxmessage o JOIN notifications_delivery d ON d.id = o.delivery_id "
        "WHERE d.notice_id = %s", (notice,)))
    assert received == addresses
    page = support.get(f"{demo.base}/outbox/?notice={notice}", timeout=10).text
    assert all(address in page for address in addresses)


def test_sigterm_to_the_process_group_leaves_nothing_and_a_second_start_is_clean(demo):
    pids = [pid for pid in demo.status().values() if pid]
    assert demo.stop(within=10) == 0
    assert [pid for pid in pids if alive(pid)] == []
    assert processes_using(demo.var) == []

    demo.start()
    demo.wait_until_up()
    assert demo.stop(within=10) == 0
    assert processes_using(demo.var) == []
