from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q, Subquery
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from drportal.accounts.access import ALL_STAFF, Role, has_role, roles
from drportal.audit import log as audit
from drportal.incidents.models import Incident
from drportal.inventory.models import Customer, Person
from drportal.lib import clock
from drportal.lib.redirects import redirect_back
from notifications import deliveries, exports, notices, staff, subscribers
from notifications.choices import DeliveryState, ExportState
from notifications.forms import (
    VARIABLES_HELP,
    CheckInForm,
    ExportRequestForm,
    NewNoticeForm,
    NoticeForm,
    NoticeTemplateForm,
    RecipientForm,
    StatusUpdateForm,
)
from notifications.models import (
    CheckIn,
    CustomerExport,
    Delivery,
    Notice,
    NoticeRecipient,
    NoticeTemplate,
    StatusUpdate,
)

NOTICE_ROLES = (Role.SUPPORT, Role.OPS, Role.MANAGER)


@roles(*NOTICE_ROLES)
def index(request: HttpRequest) -> HttpResponse:
    # Counted for the 100 notices shown only (the subquery), not grouped over every delivery ever made.
    recent = Notice.objects.order_by("-created_at").values("pk")[:100]
    notice_list = (
        Notice.objects.filter(pk__in=Subquery(recent)).select_related("incident")
        .annotate(**{s: Count("deliveries", filter=Q(deliveries__state=s)) for s in DeliveryState.values})
        .order_by("-created_at")
    )
    attention = (
        Delivery.objects.filter(state__in=[DeliveryState.IN_DOUBT, DeliveryState.FAILED, DeliveryState.BOUNCED])
        .select_related("customer", "notice", "page").order_by("-state", "pk")[:200]
    )
    return render(request, "notifications/index.html", {"notices": notice_list, "attention": attention})


@roles(Role.SUPPORT)
def template_list(request: HttpRequest) -> HttpResponse:
    notices.ensure_default_templates()
    return render(request, "notifications/templates.html", {"templates": NoticeTemplate.objects.all()})


@roles(Role.SUPPORT)
def template_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    instance = get_object_or_404(NoticeTemplate, pk=pk) if pk else None
    before = audit.snapshot(instance, ["name", "subject", "body_text", "body_html"]) if instance else None
    form = NoticeTemplateForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            saved = form.save()
            audit.record(request.user, "notice_template.saved", saved, before=before,
                         after=audit.snapshot(saved, ["name", "subject", "body_text", "body_html"]))
        messages.success(request, f"Template {saved.name!r} saved.")
        return redirect("notifications:templates")
    return render(request, "notifications/template_edit.html", {"form": form, "variables": VARIABLES_HELP})


@require_POST
@roles(Role.SUPPORT)
def notice_new(request: HttpRequest, incident_pk: int) -> HttpResponse:
    incident = get_object_or_404(Incident, pk=incident_pk)
    form = NewNoticeForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{field}: {' '.join(errors)}")
        return redirect("incidents:detail", pk=incident.pk)
    data = form.cleaned_data
    notice = notices.create_notice(request.user, incident, data["kind"], template=data["template"],
                                   timeline=data["timeline"])
    return redirect("notifications:notice", pk=notice.pk)


@roles(*NOTICE_ROLES)
def notice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    notice = get_object_or_404(Notice.objects.select_related("incident"), pk=pk)
    editable = notice.queued_at is None and has_role(request.user, Role.SUPPORT)
    form = NoticeForm(request.POST or None, instance=notice)
    if request.method == "POST":
        if not editable:
            messages.error(request, "This notice was queued; its text is frozen. Start a new notice instead.")
            return redirect("notifications:notice", pk=pk)
        if form.is_valid():
            before = audit.snapshot(Notice.objects.get(pk=pk), ["subject", "body_text", "body_html", "timeline",
                                                                  "channels"])
            with transaction.atomic():
                saved = form.save()
                b, a = audit.changes(before, audit.snapshot(saved, list(before)))
                audit.record(request.user, "notice.edited", saved, before=b, after=a)
            messages.success(request, "Notice saved.")
            return redirect("notifications:notice", pk=pk)
    recipients = NoticeRecipient.objects.filter(notice=notice).select_related("customer").annotate(
        contacts=Count("customer__contacts", filter=Q(customer__contacts__purpose="outage")))
    counts = dict(Delivery.objects.filter(notice=notice).values_list("state").annotate(n=Count("pk")))
    problems = Delivery.objects.filter(notice=notice).exclude(
        state__in=[DeliveryState.SENT, DeliveryState.QUEUED]).select_related("customer")[:500]
    ctx = {"notice": notice, "form": form, "editable": editable, "recipients": recipients,
           "counts": [(s, counts.get(s.value, 0)) for s in DeliveryState], "problems": problems,
           "variables": VARIABLES_HELP, "customers": Customer.objects.filter(status="active").only("slug", "name")}
    return render(request, "notifications/notice.html", ctx)


@require_POST
@roles(Role.SUPPORT)
def notice_recipient(request: HttpRequest, pk: int) -> HttpResponse:
    notice = get_object_or_404(Notice, pk=pk)
    form = RecipientForm(request.POST)
    if form.is_valid():
        notices.set_recipient(request.user, notice, form.cleaned_data["customer"],
                              included=form.cleaned_data["action"] == "add")
    else:
        messages.error(request, "; ".join(f"{f}: {' '.join(e)}" for f, e in form.errors.items()))
    return redirect("notifications:notice", pk=pk)


@roles(*NOTICE_ROLES)
def notice_preview(request: HttpRequest, pk: int, customer: str) -> HttpResponse:
    notice = get_object_or_404(Notice.objects.select_related("incident"), pk=pk)
    who = get_object_or_404(Customer, slug=customer)
    rendered = notices.preview(notice, who, clock.now())
    return render(request, "notifications/preview.html", {"notice": notice, "customer": who, "r": rendered})


@require_POST
@roles(Role.SUPPORT)
def notice_queue(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        result = notices.queue_notice(request.user, pk)
    except ValidationError as exc:
        messages.error(request, "; ".join(f"{f}: {' '.join(e)}" for f, e in exc.message_dict.items()))
        return redirect("notifications:notice", pk=pk)
    messages.success(request, f"{result.queued} messages queued ({result.already} were queued before).")
    if result.without_contacts:
        messages.warning(request, "No outage contact, not notified: " + ", ".join(result.without_contacts))
    if result.invalid:
        messages.error(request, "Invalid addresses: " + "; ".join(result.invalid))
    return redirect("notifications:notice", pk=pk)


@require_POST
@roles(Role.SUPPORT, Role.OPS)
def delivery_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    try:
        delivery = deliveries.resolve(request.user, pk, action)
        messages.success(request, f"{delivery.address}: {delivery.get_state_display().lower()}.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except Delivery.DoesNotExist as exc:
        raise Http404("No such delivery") from exc
    return redirect_back(request, "notifications:index")


@roles(*ALL_STAFF)
def forwarding(request: HttpRequest, incident_pk: int) -> HttpResponse:
    incident = get_object_or_404(Incident, pk=incident_pk)
    return render(request, "notifications/forwarding.html",
                  {"incident": incident, "people": staff.call_forwarding_list(incident)})


@require_POST
@roles(Role.OPS, Role.MANAGER)
def send_checkins(request: HttpRequest, incident_pk: int) -> HttpResponse:
    incident = get_object_or_404(Incident, pk=incident_pk)
    page = staff.send_checkin_links(incident.pk)
    if page is None:
        messages.info(request, "Check-in links were sent before (or this is not an office incident).")
    else:
        audit.record(request.user, "checkin.links_sent", incident, after={"people": page.deliveries.count()})
        messages.success(request, "Check-in links are on their way.")
    return redirect("incidents:detail", pk=incident.pk)


@require_POST
@roles(Role.OPS, Role.SUPPORT)
def status_update(request: HttpRequest, incident_pk: int) -> HttpResponse:
    incident = get_object_or_404(Incident, pk=incident_pk)
    form = StatusUpdateForm(request.POST)
    if form.is_valid():
        with transaction.atomic():
            update = StatusUpdate.objects.create(incident=incident, posted_at=clock.now(), posted_by=request.user,
                                                 body=form.cleaned_data["body"])
            audit.record(request.user, "status.update_posted", update, after={"body": update.body})
            transaction.on_commit(lambda: subscribers.announce_update(update.pk))
        messages.success(request, "Posted to the public status page.")
    else:
        messages.error(request, "body: " + " ".join(form.errors.get("body", [])))
    return redirect("incidents:detail", pk=incident.pk)


def checkin(request: HttpRequest, token: str) -> HttpResponse:
    """Public: the signed token is the credential (incident and person, expiring)."""
    try:
        incident_id, person_id = staff.read_checkin_token(token)
    except signing.SignatureExpired:
        return render(request, "notifications/link_error.html", {"reason": "This check-in link has expired. "
                      "Ask the person in charge for a new one."}, status=410)
    except signing.BadSignature:
        return render(request, "notifications/link_error.html", {"reason": "This check-in link is not valid: "
                      "it was altered or is incomplete."}, status=400)
    person = get_object_or_404(Person, pk=person_id)
    incident = get_object_or_404(Incident, pk=incident_id)
    existing = CheckIn.objects.filter(incident=incident, person=person).first()
    form = CheckInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        with transaction.atomic():
            row, created = CheckIn.objects.update_or_create(
                incident=incident, person=person,
                defaults={**data, "reported_at": clock.now()},
            )
            audit.record(f"checkin:{person.email}", "checkin.reported", row,
                         before=None if created else {"location": existing.location if existing else None},
                         after={"location": row.location, "power": row.has_power, "internet": row.has_internet})
        return render(request, "notifications/checkin_done.html", {"person": person, "checkin": row})
    ctx = {"person": person, "form": form, "existing": existing, "what": incident.get_disaster_class_display()}
    return render(request, "notifications/checkin.html", ctx)


@roles(Role.SUPPORT, Role.MANAGER)
def export_list(request: HttpRequest) -> HttpResponse:
    form = ExportRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        export = exports.request_export(request.user, form.cleaned_data["customer"])
        messages.success(request, f"Export #{export.pk} requested; it is built in the background.")
        return redirect("notifications:exports")
    rows = CustomerExport.objects.select_related("customer", "requested_by")[:200]
    return render(request, "notifications/exports.html", {"form": form, "exports": rows})


@require_POST
@roles(Role.SUPPORT, Role.MANAGER)
def export_link(request: HttpRequest, pk: int) -> HttpResponse:
    export = get_object_or_404(CustomerExport, pk=pk, state=ExportState.READY)
    link = exports.download_link(request.user, export)
    return render(request, "notifications/export_link.html", {"export": export, "link": link,
                                                                "hours": int(exports.LINK_TTL.total_seconds() // 3600)})


def export_download(request: HttpRequest, token: str) -> HttpResponse:
    """Public: the signed, expiring token is the credential."""
    try:
        export_id = exports.read_token(token)
    except signing.SignatureExpired:
        return render(request, "notifications/link_error.html", {"reason": "This download link has expired. "
                      "Ask us for a new one."}, status=410)
    except signing.BadSignature:
        return render(request, "notifications/link_error.html", {"reason": "This download link is not valid: "
                      "it was altered or is incomplete."}, status=400)
    export = CustomerExport.objects.filter(pk=export_id, state=ExportState.READY).select_related("customer").first()
    if export is None:
        raise Http404("This export is not available")
    CustomerExport.objects.filter(pk=export.pk).update(downloads=export.downloads + 1)
    audit.record(f"link:export#{export.pk}", "export.downloaded", export,
                 after={"from": request.META.get("REMOTE_ADDR", "")})
    if export.s3_key:
        return HttpResponseRedirect(exports.presigned_url(export))
    from pathlib import Path

    from django.conf import settings

    path = Path(settings.MEDIA_ROOT) / export.path
    if not path.is_file():
        raise Http404("The archive is gone; request a new export")
    response = FileResponse(path.open("rb"), as_attachment=True,
                            filename=f"{export.customer.slug}-export-{export.pk}.zip")
    response["Cache-Control"] = "private, no-store"
    return response


@roles(Role.OPS, Role.SUPPORT)
def maintenance(request: HttpRequest) -> HttpResponse:
    """Scheduled maintenance windows: shown on the status page and feed, announced to its subscribers."""
    from notifications.forms import MaintenanceForm
    from notifications.models import Maintenance

    form = MaintenanceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            item = form.save(commit=False)
            item.created_by, item.created_at = request.user, clock.now()
            item.save()
            form.save_m2m()
            audit.record(request.user, "maintenance.scheduled", item, after={
                "title": item.title, "starts_at": item.starts_at.isoformat(), "ends_at": item.ends_at.isoformat(),
                "services": [s.public_name for s in item.services.all()]})
            transaction.on_commit(lambda: subscribers.announce_maintenance(item.pk))
        messages.success(request, f"“{item.title}” scheduled; subscribers are being told.")
        return redirect("notifications:maintenance")
    windows = Maintenance.objects.filter(ends_at__gt=clock.now() - timedelta(days=30)).prefetch_related("services")
    return render(request, "notifications/maintenance.html", {"form": form, "windows": windows, "now": clock.now()})


@require_POST
@roles(Role.OPS, Role.SUPPORT)
def maintenance_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    from notifications.models import Maintenance

    item = get_object_or_404(Maintenance, pk=pk)
    now = clock.now()
    if Maintenance.objects.filter(pk=pk, cancelled_at__isnull=True).update(cancelled_at=now):
        audit.record(request.user, "maintenance.cancelled", item, before={"cancelled_at": None},
                     after={"cancelled_at": now.isoformat()})
        messages.success(request, f"“{item.title}” cancelled: it no longer shows on the status page.")
    return redirect("notifications:maintenance")
