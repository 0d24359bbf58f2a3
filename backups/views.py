from __future__ import annotations

import dataclasses
import functools
from datetime import timedelta

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from backups import compliance as compliance_report
from backups import exposure, status, sweep
from backups.choices import (
    Freshness,
    OffsiteStatus,
    Overall,
    PolicyKind,
    RestoreTestState,
    RpoStatus,
    VerificationStatus,
)
from backups.forms import PolicyForm, TokenForm
from backups.models import BackupPolicy, BackupRecord, IngestToken, PolicyAssetStatus, UnmatchedObject
from drportal.accounts.access import ALL_STAFF, Role, roles
from drportal.audit import log as audit
from drportal.lib import clock, timefmt

PAGE = 100
# Customer rows on the compliance page, worst first.
PAGE_CUSTOMERS = 100


class CountedPaginator(Paginator):
    """A paginator told its count when it is already known, instead of running COUNT(*)."""

    def __init__(self, object_list, per_page, *, count: int | None = None):
        super().__init__(object_list, per_page)
        if count is not None:
            self.__dict__["count"] = count  # Paginator.count is a cached_property: this is its cached value
# "status" filter: a colour, or a word of one dimension.
STATUS_FILTERS = {
    **{v: Q(overall=v) for v in Overall.values},
    **{v: Q(freshness=v) for v in (Freshness.DUE, Freshness.LATE, Freshness.FAILED, Freshness.NEVER)},
    **{v: Q(rpo_status=v) for v in (RpoStatus.AT_RISK, RpoStatus.BREACHED)},
    **{v: Q(offsite=v) for v in (OffsiteStatus.CO_LOCATED, OffsiteStatus.MISSING, OffsiteStatus.WRONG_REGION)},
    VerificationStatus.UNVERIFIED: Q(verification=VerificationStatus.UNVERIFIED),
}
SORTS = {
    "deadline": ("next_deadline", "id"),
    "rpo": ("-rpo_seconds", "id"),
    "asset": ("asset__name", "policy__name"),
    "policy": ("policy__name", "asset__name"),
}


# The columns backups/_pair_row.html reads.
PAIR_ROW_FIELDS = (
    "overall", "freshness", "rpo_status", "recovery_point", "offsite", "verification", "next_deadline",
    "policy__name", "asset__name", "customer__name", "asset_zone__slug", "asset_zone__region__slug",
    "asset_zone__region__provider__slug",
)


@roles(*ALL_STAFF)
def index(request: HttpRequest) -> HttpResponse:
    """Every policy-asset pair with a colour and a word, filtered and sorted in SQL on the status rows."""
    from drportal.inventory.models import Region

    pairs = PolicyAssetStatus.objects.all()
    params = request.GET
    if params.get("region", "").isdigit():
        pairs = pairs.filter(asset_region_id=int(params["region"]))
    if params.get("customer"):
        pairs = pairs.filter(customer__slug=params["customer"])
    if params.get("kind") in PolicyKind.values:
        pairs = pairs.filter(policy__kind=params["kind"])
    if params.get("status") in STATUS_FILTERS:
        pairs = pairs.filter(STATUS_FILTERS[params["status"]])
    sort = params.get("sort") if params.get("sort") in SORTS else "deadline"
    rows = pairs.select_related("policy", "asset", "customer", "asset_zone__region__provider").order_by(*SORTS[sort])
    # Only what a row shows: seven model instances a row, each built from its columns, are most of the view's time.
    rows = rows.only(*PAIR_ROW_FIELDS)
    counts = sweep.counts()
    # Unfiltered, or by colour only: the sweep's stored counts spare counting 100,000 rows on every view.
    # (Before the first sweep there are no stored counts: then it counts.)
    known = None
    colour_only = not any(params.get(k) for k in ("region", "customer", "kind"))
    if colour_only and params.get("status") in (None, "", *Overall.values) and sum(counts.values()):
        known = counts.get(params["status"], 0) if params.get("status") else sum(counts.values())
    page = CountedPaginator(rows, PAGE, count=known).get_page(params.get("page"))
    ctx = {
        "page": page, "counts": counts, "sort": sort, "params": params,
        "regions": Region.objects.select_related("provider"), "kinds": PolicyKind.choices,
        "statuses": list(STATUS_FILTERS), "now": clock.now(),
        "query": "&".join(f"{k}={v}" for k, v in params.items() if k != "page" and v),
    }
    return render(request, "backups/index.html", ctx)


TIMELINE_DAYS = 60
TIMELINE_WIDTH = 1000


@roles(*ALL_STAFF)
def asset(request: HttpRequest, pk: int) -> HttpResponse:
    from drportal.inventory.models import Asset

    item = get_object_or_404(Asset.objects.select_related("server__zone__region__provider", "zone__region__provider",
                                                          "customer"), pk=pk)
    now = clock.now()
    pairs = list(item.backup_pairs.select_related("policy", "recovery_record__zone__region__provider",
                                                  "recovery_record__region__provider").order_by("policy__name"))
    records = list(item.backup_records.select_related("policy", "zone__region__provider", "region__provider")
                   .order_by("-started_at")[:300])
    ctx = {"asset": item, "pairs": pairs, "records": records[:100], "now": now,
           "timeline": _timeline(pairs, records, now)}
    zone = item.current_zone
    if zone is not None:
        ctx["loss"] = exposure.data_loss_window(item, {zone.pk}, now)
    return render(request, "backups/asset.html", ctx)


def _timeline(pairs, records, now) -> dict:
    """An SVG timeline: one lane per policy, one mark per record of the last TIMELINE_DAYS days. Positions are
    SVG attributes, not inline styles, which the CSP forbids."""
    start = now - timedelta(days=TIMELINE_DAYS)
    lanes = {p.policy_id: i for i, p in enumerate(pairs)}
    span = (now - start).total_seconds()
    marks = [
        {"x": round((r.started_at - start).total_seconds() / span * TIMELINE_WIDTH, 1),
         "y": 20 + 30 * lanes[r.policy_id],
         "outcome": r.outcome, "viable": r.viable,
         "title": f"{r.policy} · {r.outcome} · {timefmt.moment(r.started_at)}"}
        for r in records if r.started_at >= start and r.policy_id in lanes
    ]
    ticks = [{"x": round(i / TIMELINE_DAYS * TIMELINE_WIDTH, 1), "label": (start + timedelta(days=i)).date()}
             for i in range(0, TIMELINE_DAYS + 1, 7)]
    labels = [{"y": 24 + 30 * i, "name": p.policy.name} for i, p in enumerate(pairs)]
    return {"marks": marks, "ticks": ticks, "labels": labels, "height": 40 + 30 * max(len(pairs), 1),
            "width": TIMELINE_WIDTH}


@roles(*ALL_STAFF)
def policy_list(request: HttpRequest) -> HttpResponse:
    """The policies with their pairs and bad pairs as the last sweep counted them (counting 100,000 pairs on
    every view is what the sweep's stored counts spare); counted here only before any sweep stored them."""
    stored = sweep.policy_counts()
    policies = BackupPolicy.objects.select_related("target_region__provider")
    if stored is None:
        policies = policies.annotate(n_assets=Count("pairs"),
                                     n_bad=Count("pairs", filter=Q(pairs__overall=Overall.BAD)))
    else:
        policies = list(policies)
        for p in policies:
            p.n_assets, p.n_bad = stored.get(p.pk, (0, 0))
    return render(request, "backups/policy_list.html", {"policies": policies})


@roles(*ALL_STAFF)
def policy_detail(request: HttpRequest, pk: int) -> HttpResponse:
    policy = get_object_or_404(BackupPolicy.objects.select_related("target_region__provider"), pk=pk)
    now = clock.now()
    pairs = policy.pairs.select_related("asset", "customer").order_by("-overall", "next_deadline")[:200]
    ctx = {"policy": policy, "pairs": pairs, "next_runs": policy.runs_after(now, 3), "now": now,
           "sources": policy.sources.select_related("account"), "tokens": policy.tokens.filter(revoked_at=None)}
    return render(request, "backups/policy_detail.html", ctx)


@roles(Role.OPS)
def policy_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    policy = get_object_or_404(BackupPolicy, pk=pk) if pk else BackupPolicy()
    fields = ["name", "kind", "schedule", "time_zone", "grace", "rpo_objective", "retention", "location_rule",
              "target_region_id", "verify_within", "active"]
    before = audit.snapshot(policy, fields) if pk else {}
    form = PolicyForm(request.POST or None, instance=policy)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            saved = form.save()
            # Any rule may change every pair's status: recompute them at the next sweep.
            saved.pairs.update(dirty=True)
            b, a = audit.changes(before, audit.snapshot(saved, fields))
            audit.record(request.user, "backups.policy_updated" if pk else "backups.policy_created", saved, b, a)
        messages.success(request, f"Policy {saved} saved.")
        return redirect("backups:policy", pk=saved.pk)
    preview = _preview(policy.schedule, policy.time_zone) if pk else None
    return render(request, "backups/policy_form.html", {"form": form, "policy": policy, "preview": preview})


def _preview(schedule: str, tz: str) -> dict:
    from django.core.exceptions import ValidationError

    from backups.models import validate_cron, validate_time_zone

    try:
        validate_cron(schedule)
        validate_time_zone(tz)
    except ValidationError as exc:
        return {"error": exc.messages[0]}
    return {"runs": status.next_runs(schedule, tz, clock.now(), 3)}


@roles(Role.OPS)
def cron_preview(request: HttpRequest) -> HttpResponse:
    """htmx: the next three runs of the schedule being typed, shown in the user's display zone."""
    preview = _preview(" ".join(request.GET.get("schedule", "").split()), request.GET.get("time_zone") or "UTC")
    return render(request, "backups/_cron_preview.html", {"preview": preview})


@require_POST
@roles(Role.OPS)
def request_verification(request: HttpRequest, pk: int) -> HttpResponse:
    from backups import jobs

    record = get_object_or_404(BackupRecord, pk=pk)
    test = jobs.request_restore_test(record, requested_by=request.user)
    if test.state == RestoreTestState.QUEUED:
        messages.success(request, f"Restore test #{test.pk} queued.")
    return redirect("backups:asset", pk=record.asset_id)


def _period(request: HttpRequest) -> int:
    days = request.GET.get("days", "30")
    return int(days) if days.isdigit() and int(days) in compliance_report.PERIODS else 30


@roles(Role.MANAGER, Role.OPS)
def compliance(request: HttpRequest) -> HttpResponse:
    # The printable page is a document for an auditor: its own template, without the site's navigation.
    printable = bool(request.GET.get("print"))
    # The page lists the worst customers only, the printable page what the PDF prints: at 50,000 customers a
    # page of every one was 20 MB and 8 s (issue 17). The CSV lists every customer. Both read the summary
    # stored after the sweep (compliance.summary).
    report = compliance_report.summary(_period(request), clock.now(),
                                       customers=compliance_report.PDF_CUSTOMERS if printable else PAGE_CUSTOMERS)
    template = "backups/compliance_print.html" if printable else "backups/compliance.html"
    ctx = {"report": report, "periods": compliance_report.PERIODS, "table": compliance_report.table(report),
           "more_customers": report.more_customers, "unit": compliance_report.UNIT,
           "pdf_customers": compliance_report.PDF_CUSTOMERS, "printable": printable,
           "violations_heading": compliance_report.violations_heading(report)}
    return render(request, template, ctx)


@roles(Role.MANAGER, Role.OPS)
def compliance_csv(request: HttpRequest) -> HttpResponse:
    from django.utils import timezone

    from backups import compliance_files

    # Every customer and every violation: the file the page, the printable page and the PDF refer to for them.
    # Streamed, the violations read in chunks: a worker's memory stays flat however many the period holds.
    report = compliance_report.report(_period(request), clock.now(), violations_limit=0)
    report = dataclasses.replace(report, violations=compliance_report.every_violation(report))
    # The reader's zone taken now: the rows are written after the view returns, its zone no longer active.
    local = functools.partial(timezone.localtime, timezone=timezone.get_current_timezone())
    response = StreamingHttpResponse(compliance_files.streamed_csv(report, local),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="backup-compliance-{report.days}d.csv"'
    return response


@roles(Role.MANAGER, Role.OPS)
def compliance_pdf(request: HttpRequest) -> HttpResponse:
    from django.utils import timezone

    from backups import compliance_files

    report = compliance_report.summary(_period(request), clock.now(), customers=compliance_report.PDF_CUSTOMERS)
    zone = timezone.get_current_timezone_name()
    response = HttpResponse(compliance_files.pdf(report, zone, timezone.localtime), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="backup-compliance-{report.days}d.pdf"'
    return response


@roles(*ALL_STAFF)
def exposure_page(request: HttpRequest) -> HttpResponse:
    """The sweep's stored exposure rows, worst first, a page at a time: a count, a page, the location names."""
    now = clock.now()
    scope = request.GET.get("scope") if request.GET.get("scope") in ("zone", "region") else "zone"
    page = Paginator(exposure.worst_first(scope), PAGE).get_page(request.GET.get("page"))
    ctx = {"rows": exposure.rows_of(page, now), "page": page, "scope": scope, "now": now}
    return render(request, "backups/exposure.html", ctx)


@roles(Role.OPS)
def tokens(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    raw = None
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            token, raw = form.issue(request.user)
            audit.record(request.user, "backups.token_issued", token,
                         after={"name": token.name, "prefix": token.prefix, "policy": token.policy_id,
                                "account": token.account_id})
        form = TokenForm()
    listing = IngestToken.objects.select_related("policy", "account", "created_by").order_by("revoked_at", "name")
    response = render(request, "backups/tokens.html", {"form": form, "tokens": listing, "raw": raw})
    response["Cache-Control"] = "no-store"  # the raw token is on this page once
    return response


@require_POST
@roles(Role.OPS)
def revoke_token(request: HttpRequest, pk: int) -> HttpResponse:
    now = clock.now()
    token = get_object_or_404(IngestToken, pk=pk)
    if IngestToken.objects.filter(pk=pk, revoked_at__isnull=True).update(revoked_at=now):
        audit.record(request.user, "backups.token_revoked", token, before={"revoked_at": None},
                     after={"revoked_at": now})
        messages.success(request, f"Token {token} revoked.")
    return redirect("backups:tokens")


@roles(*ALL_STAFF)
def unmatched(request: HttpRequest) -> HttpResponse:
    objects = UnmatchedObject.objects.select_related("source").order_by("-last_seen_at")[:500]
    return render(request, "backups/unmatched.html", {"objects": objects})


@roles(Role.MANAGER)
def report_subscriptions(request: HttpRequest) -> HttpResponse:
    """A manager's scheduled compliance reports (backups.report_mail): subscribe, see what was sent."""
    from backups.forms import ReportSubscriptionForm
    from backups.models import ReportSend, ReportSubscription

    form = ReportSubscriptionForm(request.POST or None)
    if request.method == "POST" and not request.user.email:
        form.add_error(None, "your account has no e-mail address to send the report to: add one first")
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            item = form.save(commit=False)
            item.user, item.created_at = request.user, clock.now()
            item.save()
            form.save_m2m()
            audit.record(request.user, "compliance_report.subscribed", item, after={
                "frequency": item.frequency, "policies": [p.name for p in item.policies.all()],
                "customers": [c.name for c in item.customers.all()]})
        messages.success(request, f"Subscribed: {item.get_frequency_display()} report to {request.user.email}.")
        return redirect("backups:report-subscriptions")
    mine = ReportSubscription.objects.filter(user=request.user, active=True).prefetch_related("policies", "customers")
    sends = ReportSend.objects.filter(subscription__user=request.user).select_related("subscription")[:50]
    return render(request, "backups/report_subscriptions.html", {"form": form, "subscriptions": mine,
                                                                 "sends": sends})


# Suggestions under the subscription's customer field.
CUSTOMER_SUGGESTIONS = 20


@roles(Role.MANAGER)
def report_customer_options(request: HttpRequest) -> HttpResponse:
    """Suggestions for the subscription's list of customers (a <datalist>, filled by htmx): customers whose name
    or identifier contains the entry being typed (the text after the last comma), each offered as the whole
    list with that entry completed, so picking one keeps the names typed before it."""
    from drportal.inventory.models import Customer

    text = request.GET.get("customers", "")[:2000]
    done, _, typing = text.rpartition(",")
    typing = typing.strip()
    found = Customer.objects.none()
    if typing:
        found = Customer.objects.filter(Q(name__icontains=typing) | Q(slug__icontains=typing)).order_by("name")
    before = ", ".join(n.strip() for n in done.split(",") if n.strip())
    # A name with a comma in it would split into two entries: such a customer is offered by its identifier.
    options = []
    for c in found.only("slug", "name")[:CUSTOMER_SUGGESTIONS]:
        entry = c.slug if "," in c.name else c.name
        options.append((f"{before}, {entry}" if before else entry, f"{c.name} ({c.slug})"))
    return render(request, "backups/_report_customer_options.html", {"options": options})


@require_POST
@roles(Role.MANAGER)
def report_unsubscribe(request: HttpRequest, pk: int) -> HttpResponse:
    from backups.models import ReportSubscription

    item = get_object_or_404(ReportSubscription, pk=pk, user=request.user)
    if ReportSubscription.objects.filter(pk=pk, active=True).update(active=False):
        audit.record(request.user, "compliance_report.unsubscribed", item, before={"active": True},
                     after={"active": False})
        messages.success(request, f"Unsubscribed from the {item.get_frequency_display().lower()} report.")
    return redirect("backups:report-subscriptions")
