"""A manager's morning: the compliance report (a late and a co-located backup), its CSV, a drill report."""

from __future__ import annotations

import csv
import io

import pytest
from playwright.sync_api import expect

from backups.models import PolicyAssetStatus
from tests.browser.conftest import save_shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_reads_compliance_exports_csv_and_a_drill_report(alice, mona, demo, live_server, sign_in, page):
    late = PolicyAssetStatus.objects.filter(freshness="late").select_related("asset", "policy").first()
    co_located = PolicyAssetStatus.objects.filter(offsite="co_located", asset__server__name="jv-db1").select_related(
        "asset", "policy").first()
    assert late is not None
    assert co_located is not None

    sign_in("mona")
    expect(page.locator(".tile", has_text="Late or failed backups")).to_have_class("tile tile-bad")
    save_shot(page, "manager-1-dashboard")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Compliance").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Backup compliance")
    violations = page.locator("table", has=page.get_by_role("columnheader", name="What"))
    expect(violations.locator("tr", has_text=late.asset.name).filter(has_text="late").first).to_be_visible()
    expect(violations.locator("tr", has_text=co_located.asset.name).filter(has_text="co_located").first).to_be_visible()
    save_shot(page, "manager-2-compliance", doc="compliance-report")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="CSV").first.click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    rows = list(csv.reader(io.StringIO(open(download.path(), encoding="utf-8").read())))
    assert len(rows) > 1
    assert any(late.policy.name in r for r in rows)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Scenarios").click()
    page.get_by_role("link", name="Drills").first.click()
    # The newest drill of the scenario: this test's (the demo's month holds two older ones).
    drill_row = page.locator("tr", has_text="One of Jivosoft's cloud servers crashes").first
    expect(drill_row).to_contain_text("met")
    save_shot(page, "manager-3-drills", doc="drills")
    drill_row.get_by_role("link").first.click()  # its run (the row also links the drill's own page)
    expect(page.get_by_role("heading", level=1)).to_contain_text("One of Jivosoft's cloud servers crashes")
    expect(page.locator("#run-live .badge").first).to_have_text("Succeeded")
    save_shot(page, "manager-4-drill-run")
