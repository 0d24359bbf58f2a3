"""Cybernance loses its AWS region: ops says so by choosing the region only (us-east-1, the one the inventory
names), executes the proposed scenario, a manager approves the rebuild, and the worker re-provisions each
application server in us-west-2 (the scenario's target region) through its deployment, restores the database
there from its snapshot copy and rotates the load balancer there, on a moto server standing in for AWS, then
points the public name at the us-west-2 balancer in PowerDNS and checks it with dnspython; ops holds the review.
The run ends "Succeeded" only because every row proves it, and moto holds what the run recorded, all of it in
us-west-2."""

from __future__ import annotations

import re

import boto3
import pytest
from playwright.sync_api import expect

from drportal.incidents.models import Incident
from drportal.inventory.models import Asset, Region, Server
from scenarios.models import Run, StepRun
from tests.browser.conftest import save_shot
from tests.browser.test_ops_journey import LIVE, complete, expect_true_outcome, row
from tests.browser.test_region_only_journey import approve_as_manager, declare, readable

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCENARIO = "All three Cybernance datacenters lost"


def test_a_region_only_declaration_rebuilds_cybernance_on_moto(cybernance_on_moto, moto, worker, live_server,
                                                                 sign_in, second_page, alice, mona):
    region = Region.objects.get(provider__slug="aws", slug="us-east-1")
    names = sorted(Server.objects.filter(zone__region=region, account__isnull=False).values_list("name", flat=True))
    assert names == ["cyb-app1", "cyb-app2", "cyb-app3"]
    page = sign_in("alice")

    declare(page, "AWS us-east-1 unavailable", "all_datacenters_lost", **{"Impacted regions": str(region.pk)})
    expect(page.locator("#declare-preview")).to_contain_text(SCENARIO)
    readable(page)
    page.get_by_role("button", name="Declare").click()
    expect(page.get_by_text("declared.")).to_be_visible()
    assert not Incident.objects.get().impacted_servers.exists()
    plan = page.locator("li", has_text=SCENARIO).locator("details.run-plan")
    for name in names:
        expect(plan).to_contain_text(name)
    expect(plan).not_to_contain_text("not applicable")
    readable(page)
    page.locator("li", has_text=SCENARIO).get_by_role("button", name="Execute").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(SCENARIO)
    run = Run.objects.get()
    assert not run.drill
    assert run.bindings["target_region"] == "aws/us-west-2"

    expect(row(page, "Tell customers about the outage")).to_contain_text("succeeded", timeout=LIVE)
    approve_as_manager(second_page, live_server, run, "Approve rebuilding the platform in another region")
    page.goto(f"{live_server.url}/scenarios/runs/{run.pk}/")
    for name in names:
        expect(row(page, f"Re-provision {name} from code")).to_contain_text("succeeded", timeout=LIVE)
    expect(row(page, "Restore the database in the other region from its newest backup there")).to_contain_text(
        "succeeded", timeout=LIVE)
    expect(row(page, "Put the new application servers behind the load balancer")).to_contain_text(
        "succeeded", timeout=LIVE)
    readable(page)
    expect(row(page, "Point the platform's public DNS name at the load balancer")).to_contain_text(
        "succeeded", timeout=LIVE)
    expect(row(page, "Check the platform's public DNS name answers with the load balancer")).to_contain_text(
        "succeeded", timeout=LIVE)
    expect(row(page, "Tell customers the service is back")).to_contain_text("succeeded", timeout=LIVE)
    complete(page, "Post-incident review", notes="review held")
    expect_true_outcome(page, skipped=[])
    readable(page)
    save_shot(page, "scope-4-cybernance-region-rebuilt")

    # What moto holds is what the run recorded: one new instance per server in us-west-2, each in the target group
    # there; none in us-east-1.
    def aws(service: str, region: str = "us-west-2"):
        return boto3.client(service, endpoint_url=moto.endpoint, region_name=region, aws_access_key_id="AKIDTEST",
                            aws_secret_access_key="moto-secret")

    def made_by_drportal(region: str) -> set[str]:
        found = aws("ec2", region).describe_instances(Filters=[{"Name": "tag-key", "Values": ["drportal_key"]}])
        return {i["InstanceId"] for r in found["Reservations"] for i in r["Instances"]}

    created = made_by_drportal("us-west-2")
    assert {s.provider_node_id for s in Server.objects.filter(name__in=names)} == created
    assert len(created) == 3
    assert made_by_drportal("us-east-1") == set()
    members = aws("elbv2").describe_target_health(TargetGroupArn=cybernance_on_moto["west_group"])
    assert {m["Target"]["Id"] for m in members["TargetHealthDescriptions"]} == created
    restore = StepRun.objects.get(run=run, step_id="restore-database")
    assert Asset.objects.get(name="cyb-rds-prod").external_id == restore.outputs["target"]
    assert [d["DBInstanceIdentifier"] for d in aws("rds").describe_db_instances()["DBInstances"]] == [
        restore.outputs["target"]]

    # The run's success moved the incident to recovered by itself.
    page.get_by_role("link", name=re.compile(r"#\d+ AWS us-east-1 unavailable")).click()
    expect(page.locator(".badge.s-recovered").first).to_be_visible()
    readable(page)
