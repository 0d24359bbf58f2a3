"""Scheduled compliance reports: a manager subscribes, and the scheduler mails the report once per period with
the CSV (the page's own) and a PDF attached, saying what changed since the last one."""

from __future__ import annotations

import re
from datetime import date, timedelta

import time_machine

from backups import report_mail, scheduler
from backups.models import DailyRollup, ReportSend, ReportSubscription
from drportal.audit.models import AuditEvent
from tests.backups.conftest import at, work
from tests.notifications import conftest as mail

smtp, smtp_server = mail.smtp, mail.smtp_server  # the real aiosmtpd receiver, by fixture name

SUBSCRIBED = at("2026-11-18 10:00")  # a Wednesday
FIRST = at("2026-11-23 00:05")  # the Monday after: the week of Nov 16-22 is complete
SECOND = at("2026-11-30 00:05")


def rollups(world, first_day: date, compliant_hours: list[float]) -> None:
    for offset, hours in enumerate(compliant_hours):
        DailyRollup.objects.create(day=first_day + timedelta(days=offset), policy=world.daily, customer=world.acme,
                                   observed_seconds=86400, compliant_seconds=hours * 3600)


def subscribe(client_as, **extra) -> ReportSubscription:
    with time_machine.travel(SUBSCRIBED, tick=False):
        response = client_as("mona").post("/backups/compliance/subscriptions/", {"frequency": "weekly", **extra})
    assert response.status_code == 302, response.content
    return ReportSubscription.objects.get()


def tick_and_work(moment, queue, capture) -> None:
    with time_machine.travel(moment, tick=False):
        with capture(execute=True):
            scheduler.tick(moment)
        work(queue)


def reports(smtp) -> list:
    return [m for rcpts, m in smtp.messages if rcpts == ["mona@example.test"]]


def test_a_weekly_report_arrives_once_per_week_with_csv_and_pdf(world, users, client_as, smtp, queue,
                                                                 django_capture_on_commit_callbacks):
    subscribe(client_as)
    rollups(world, date(2026, 11, 16), [24, 24, 24, 24, 24, 12, 24])
    tick_and_work(FIRST, queue, django_capture_on_commit_callbacks)
    # A second scheduler at the same moment, and the next tick five minutes later: nothing more is sent.
    tick_and_work(FIRST, queue, django_capture_on_commit_callbacks)
    tick_and_work(FIRST + timedelta(minutes=5), queue, django_capture_on_commit_callbacks)
    [message] = reports(smtp)
    assert message["Subject"] == "Backup compliance, weekly report: 2026-11-16 to 2026-11-22"
    text = message.get_body(("plain",)).get_content()
    assert "This is the first report of this subscription" in text
    assert "- Daily database dumps (Dallas): 92.86 %" in text
    attachments = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    assert set(attachments) == {"backup-compliance-2026-11-16-weekly.csv", "backup-compliance-2026-11-16-weekly.pdf"}
    assert attachments["backup-compliance-2026-11-16-weekly.pdf"][:5] == b"%PDF-"
    # The CSV is the page's own download for those seven days.
    with time_machine.travel(FIRST.replace(minute=0) - timedelta(microseconds=1), tick=False):
        page_csv = client_as("mona").get("/backups/compliance.csv?days=7").getvalue().decode()
    assert attachments["backup-compliance-2026-11-16-weekly.csv"].replace("\r\n", "\n") == \
        page_csv.replace("\r\n", "\n")
    assert "Acme Dental" in page_csv
    assert ReportSend.objects.get().state == "sent"
    assert AuditEvent.objects.filter(action="compliance_report.sent").count() == 1


def test_the_next_report_says_what_changed_since_the_last(world, users, client_as, smtp, queue,
                                                          django_capture_on_commit_callbacks):
    subscribe(client_as)
    rollups(world, date(2026, 11, 16), [24, 24, 24, 24, 24, 12, 24])
    tick_and_work(FIRST, queue, django_capture_on_commit_callbacks)
    rollups(world, date(2026, 11, 23), [24] * 7)
    tick_and_work(SECOND, queue, django_capture_on_commit_callbacks)
    _first, second = reports(smtp)
    assert second["Subject"] == "Backup compliance, weekly report: 2026-11-23 to 2026-11-29"
    text = second.get_body(("plain",)).get_content()
    # The real sweep ran at each tick and counted the week's unbacked hours too: read the figure it stated.
    now_percent = re.search(r"^- Daily database dumps \(Dallas\): ([\d.]+) %", text, re.M).group(1)
    assert now_percent != "92.86"
    assert f"Policy Daily database dumps (Dallas): 92.86 % → {now_percent} %." in text


def test_no_report_before_the_first_full_period_after_subscribing(world, users, client_as, smtp, queue,
                                                                   django_capture_on_commit_callbacks):
    subscribe(client_as)
    tick_and_work(SUBSCRIBED + timedelta(hours=1), queue, django_capture_on_commit_callbacks)
    assert reports(smtp) == []
    assert not ReportSend.objects.exists()


def test_two_senders_racing_send_one_report(world, users, client_as, smtp):
    subscribe(client_as)
    with time_machine.travel(FIRST, tick=False):
        assert report_mail.send_due(FIRST) + report_mail.send_due(FIRST) == 1
    assert len(reports(smtp)) == 1


def test_a_report_left_sending_by_a_dead_worker_is_in_doubt_not_resent(world, users, client_as, smtp):
    sub = subscribe(client_as)
    start, end = report_mail.period_of("weekly", FIRST)
    ReportSend.objects.create(subscription=sub, period_start=start, period_end=end, state="sending",
                              created_at=FIRST, claimed_at=FIRST)
    with time_machine.travel(FIRST + timedelta(minutes=15), tick=False):
        report_mail.send_due(FIRST + timedelta(minutes=15))
    assert ReportSend.objects.get().state == "in_doubt"
    assert reports(smtp) == []


def test_a_report_narrowed_to_one_customer_leaves_the_others_out(world, users, client_as, smtp):
    subscribe(client_as, customers="Zeta Clinics")
    rollups(world, date(2026, 11, 16), [24] * 7)
    DailyRollup.objects.create(day=date(2026, 11, 17), policy=world.daily, customer=world.zeta,
                               observed_seconds=86400, compliant_seconds=0)
    with time_machine.travel(FIRST, tick=False):
        report_mail.send_due(FIRST)
    [message] = reports(smtp)
    csv_text = next(p.get_content() for p in message.iter_attachments() if p.get_filename().endswith(".csv"))
    assert "Zeta Clinics" in csv_text
    assert "Acme Dental" not in csv_text
    assert "customers Zeta Clinics" in message.get_body(("plain",)).get_content()


def test_a_manager_unsubscribes(world, users, client_as, smtp):
    sub = subscribe(client_as)
    client_as("mona").post(f"/backups/compliance/subscriptions/{sub.pk}/unsubscribe/")
    with time_machine.travel(FIRST, tick=False):
        assert report_mail.send_due(FIRST) == 0
    assert reports(smtp) == []


def test_a_manager_without_an_e_mail_address_is_told_so_and_nothing_is_subscribed(world, users, client_as, mona):
    mona.email = ""
    mona.save()
    response = client_as("mona").post("/backups/compliance/subscriptions/", {"frequency": "weekly"})
    assert "has no e-mail address" in response.content.decode()
    assert not ReportSubscription.objects.exists()


def test_a_report_of_thousands_of_changed_customers_lists_fifty_and_counts_the_rest():
    before = {"policies": {}, "customers": {f"Customer {n:05}": 50.0 for n in range(5_000)}, "violations": 0}
    after = {"policies": {}, "customers": {f"Customer {n:05}": 60.0 for n in range(5_000)}, "violations": 0}
    lines = report_mail.changes(before, after)
    assert len(lines) == 51
    assert lines[0] == "Customer Customer 00000: 50.0 % → 60.0 %."
    assert lines[-1] == "And 4,950 more customers changed: the CSV attached has every figure."
