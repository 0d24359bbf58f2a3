"""A zone-wide class binds hundreds of servers: the run page stays readable (each fanned-out step is one line
with its rows counted by state, and the rows that need someone under it) and fast (the same queries for 400
servers as for 3), and "Show all" lists every row of one step."""

from __future__ import annotations

import re
import time

import pytest
from django.urls import reverse

from drportal.incidents import services as incidents
from scenarios import engine
from tests.scenarios.conftest import drain, scenario

pytestmark = pytest.mark.django_db(transaction=True)


def fan_out(fail: str = ""):
    params = f'{{server: "{{server}}", fail: "{fail}"}}' if fail else '{server: "{server}"}'
    return scenario(f"fan-out{fail and '-failing'}", f"""\
- id: provision
  kind: automated
  title: "Provision {{server}} again"
  quote: "Jivasoft's staff would provision replacement servers"
  action: simulated
  for_each: server
  params: {params}
  max_attempts: 1
- id: review
  kind: manual
  title: Review the new environment
  quote: "Jivasoft's staff would provision replacement servers"
  after: [provision]
  instructions: "Look at it."
""")


def run_over(servers, alice, fail: str = ""):
    incident = incidents.declare(alice, title="Zone lost", disaster_class="server_crash",
                                 impacted={"servers": servers})
    run, _ = engine.start_run(incident, fan_out(fail), alice)
    drain()
    run.refresh_from_db()
    return run


def table_rows(page: str) -> int:
    return len(re.findall(r"<tr[ >]", page.split("<tbody>")[1].split("</tbody>")[0]))


def test_four_hundred_provisioned_servers_read_as_one_line(client_as, alice, make_servers):
    run = run_over(make_servers(400), alice)
    page = client_as("alice").get(reverse("scenarios:run", args=[run.pk])).content.decode()
    assert "Provision each server again: 400 rows, 400 succeeded" in page
    assert "Show all 400" in page
    assert "Provision web17 again" not in page
    # the group's line and the review step
    assert table_rows(page) == 2


def test_the_rows_that_failed_are_listed_under_their_line_ten_at_most(client_as, alice, make_servers):
    run = run_over(make_servers(400), alice, fail="permanent")
    page = client_as("alice").get(reverse("scenarios:run", args=[run.pk])).content.decode()
    assert "Provision each server again: 400 rows, 400 failed; 400 need someone" in page
    assert "and 390 more that need someone" in page
    assert page.count("simulated permanent failure") <= 20
    assert "; and 390 more — fix the cause, then retry or skip it." in page
    assert table_rows(page) == 1 + 10 + 1 + 1


def test_show_all_lists_every_row_of_that_step_and_keeps_it_while_polling(client_as, alice, make_servers):
    run = run_over(make_servers(400), alice, fail="permanent")
    client = client_as("alice")
    page = client.get(reverse("scenarios:run", args=[run.pk]), {"show": "provision"}).content.decode()
    assert all(f"Provision web{i} again</a>" in page for i in range(400))
    assert f'hx-get="{reverse("scenarios:run-live", args=[run.pk])}?show=provision"' in page
    live = client.get(reverse("scenarios:run-live", args=[run.pk]), {"show": "provision"}).content.decode()
    assert table_rows(live) == 401


def test_an_unknown_step_to_show_is_ignored(client_as, alice, make_servers):
    run = run_over(make_servers(12), alice)
    page = client_as("alice").get(reverse("scenarios:run", args=[run.pk]), {"show": "<script>"}).content.decode()
    assert "Provision each server again: 12 rows, 12 succeeded" in page
    assert "<script>" not in page.split("<tbody>")[1]


@pytest.mark.parametrize("count", [3, 400])
def test_the_live_part_takes_the_same_queries_for_400_servers_as_for_3(client_as, alice, make_servers,
                                                                       django_assert_num_queries, count):
    run = run_over(make_servers(count), alice, fail="permanent")
    client = client_as("alice")
    url = reverse("scenarios:run-live", args=[run.pk])
    client.get(url)
    # session, user, profile (time zone), groups (roles), the run with its incident and starter, the steps
    # with their actors; no step waits for a person (the provisioning failed, the review waits for it), so no
    # query for who may act
    with django_assert_num_queries(6):
        started = time.perf_counter()
        response = client.get(url)
        took = time.perf_counter() - started
    assert response.status_code == 200
    # Polled every 2 s by everyone watching: well under that on this 2-core machine, with room to spare.
    assert took < 1.0, f"{count} servers: {took:.3f} s"
    print(f"run-live with {count} servers (failed rows): {took * 1000:.0f} ms, {len(response.content)} bytes")
