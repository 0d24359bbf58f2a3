"""The dashboard says each problem of the demo in one sentence, what, since when and what to do, derived from the
rows the status functions wrote: the failed dump, the broken Dallas promise, the co-located copies."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from backups import ingest
from backups.choices import RecordSource
from backups.sweep import sweep
from tests.scenarios.conftest import demo  # noqa: F401 - the demo data, as load_demo loads it

# Mid-week, when the newest Kansas City copy is Sunday's weekly one and losing Dallas breaks the promise (on a
# Sunday afternoon that copy is an hour old). The demo's history is laid out backwards from this moment.
THURSDAY = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def thursday_afternoon():
    with time_machine.travel(THURSDAY, tick=False):
        yield


def sentences(client) -> list[str]:
    page = client.get(reverse("dashboard")).content.decode()
    section = page.split('id="h-problems"', 1)[1].split("</section>", 1)[0]
    items = re.findall(r"<li>(.*?)</li>", section, re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", item)).replace("&#x27;", "'").replace("&quot;", '"')
            for item in items]


def test_it_says_the_failed_dump_when_it_failed_and_what_to_do(demo, client_as):  # noqa: F811
    said = sentences(client_as("mona"))

    # The dump ran at 04:00 in Chicago and started two minutes later; mona reads Chicago time.
    assert ("The newest backup of jv-db-alamo-freight (Alamo Freight Lines) by jv-customer-db-daily failed, and "
            "its newest restorable copy is older than the 1 d 2 h the policy allows, since Dec 3 04:02 CST: read "
            "the run's error on the asset's page, fix the cause and run the backup again.") in said


def test_it_says_losing_dallas_breaks_the_plans_promise_and_since_when(demo, client_as):  # noqa: F811
    said = [s for s in sentences(client_as("alice")) if "Dallas" in s]

    assert len(said) == 1
    assert said[0].startswith("Losing the servers of “Rackspace's Dallas data center goes offline” now would lose "
                              "up to ")
    # Sunday's weekly copy in Kansas City (taken at 02:00 in Chicago) is the newest that survives; it broke the
    # 26-hour promise 26 hours after it was taken.
    assert "of data, more than the 1 d 2 h the plan promises, since Nov 30 " in said[0]
    assert said[0].endswith(": keep a copy of what it recovers outside its zone at least every 1 d 2 h, or change "
                            "the promise in the plan.")


def test_it_says_the_co_located_copies(demo, client_as):  # noqa: F811
    said = sentences(client_as("sam"))

    assert ("Every copy of cyb-rds-prod by cyb-daily-offsite is kept in aws/us-east-1, where it runs, so losing "
            "aws/us-east-1 would lose them too: keep a copy outside aws/us-east-1, as the policy's off-site rule "
            "asks.") in said


def test_a_problem_that_is_fixed_is_no_longer_said(demo, client_as):  # noqa: F811
    from drportal.lib import clock

    now = clock.now()
    rerun = {"id": "rerun-alamo", "asset": "jv-db-alamo-freight", "policy": "jv-customer-db-daily",
             "outcome": "succeeded", "started_at": (now - timedelta(minutes=30)).isoformat(),
             "completed_at": (now - timedelta(minutes=10)).isoformat(), "size_bytes": 1, "sha256": "ab" * 32,
             "location": {"zone": "rackspace/dfw/dfw1"}}
    ingest.save([ingest.build_record(rerun, ingest.Lookups([rerun], None), now, source=RecordSource.MANUAL)])
    sweep(now)

    said = sentences(client_as("mona"))
    assert not [s for s in said if "jv-db-alamo-freight" in s]
    assert [s for s in said if "cyb-rds-prod" in s]
