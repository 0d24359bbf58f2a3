"""Support tells the customers hit by the Dallas outage: one notice, each customer's own data-loss window,
sent by the real worker to a real SMTP server, delivery status on the page, then the public status page."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from drportal.incidents import services
from drportal.inventory.models import Customer, Region, Server
from notifications.models import Delivery
from tests.browser.conftest import save_shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def dallas_outage(demo_data, alice):
    dallas = Region.objects.get(slug="dfw")
    return services.declare(alice, title="Rackspace Dallas offline", severity="sev1",
                            disaster_class="datacenter_offline", public_summary="Service interruption",
                            impacted={"regions": [dallas], "servers": list(Server.objects.filter(zone__region=dallas))})


def test_support_notifies_impacted_customers_and_checks_the_status_page(
        dallas_outage, mailbox, worker, live_server, sign_in, page, browser, sam):
    sign_in("sam")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Notices")).to_be_visible()
    expect(nav.get_by_role("link", name="Compliance")).to_have_count(0)

    nav.get_by_role("link", name="Incidents").click()
    page.get_by_role("link", name="Rackspace Dallas offline").click()
    page.get_by_label("Kind").select_option("outage_declared")
    page.get_by_label("Timeline").fill("We will update you within 8 hours.")
    page.get_by_role("button", name="New notice").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Outage declared")

    audience = page.locator("section", has=page.get_by_role("heading", name="Audience")).locator("tbody tr")
    count = audience.count()
    assert count > 0
    # A customer whose database is on jv-db2, still in Dallas (jv-db1 failed over earlier in the demo data).
    customer = Customer.objects.filter(assets__server__name="jv-db2").order_by("name").first()
    audience.filter(has_text=customer.name).get_by_role("link", name="Preview").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Preview for {customer.name}")
    loss = page.locator("section", has=page.get_by_role("heading", name="Data-loss window"))
    # Dallas is lost: only the weekly copies in Kansas City remain, as the seed plan's promise hides.
    expect(loss.locator("tbody tr").first).to_contain_text("rackspace/mci/mci1")
    expect(loss).to_contain_text("need to be re-entered")
    save_shot(page, "support-1-notice-preview", doc="notice-preview")
    page.get_by_role("link", name="← Notice").click()

    page.get_by_role("button", name=re.compile(r"Send to \d+ customers")).click()
    expect(page.get_by_text("messages queued")).to_be_visible()
    deliveries = Delivery.objects.filter(notice__incident=dallas_outage)
    queued = deliveries.count()
    assert queued > 0
    deadline = time.monotonic() + 60
    while deliveries.filter(state="sent").count() < queued and time.monotonic() < deadline:
        time.sleep(0.5)
    page.reload()
    expect(page.locator(".badge", has_text=f"Sent: {queued}")).to_be_visible()
    save_shot(page, "support-2-deliveries")
    # Counted at the SMTP server: every customer's address once (staff pages go to the same server).
    with mailbox.lock:
        received = [r for rcpts, msg in mailbox.messages if msg["Subject"].startswith("[INC-") for r in rcpts]
    assert sorted(received) == sorted(deliveries.values_list("address", flat=True))
    assert len(received) == len(set(received))
    body = next(msg for rcpts, msg in mailbox.messages if msg["Subject"].startswith("[INC-")
                and customer.name in msg["Subject"])
    assert "of recent data may need to be re-entered" in body.get_body(("plain",)).get_content()

    # The public status page, as a customer sees it (no login).
    public = browser.new_context(viewport={"width": 390, "height": 844})
    customer_page = public.new_page()
    customer_page.goto(f"{live_server.url}/status/")
    expect(customer_page.get_by_role("heading", level=1)).to_have_text("Service status")
    expect(customer_page.get_by_text("Service interruption").first).to_be_visible()
    assert "jv-db1" not in customer_page.content()
    save_shot(customer_page, "support-3-status-page-phone", doc="status-page-phone")
    public.close()
