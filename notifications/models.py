from __future__ import annotations

import re

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from notifications import templating
from notifications.choices import AudienceSource, Channel, DeliveryState, ExportState, NoticeKind, WorkLocation

# The shape notifications.api.guarded_subject gives a runbook subject that claims a restore.
GUARDED_SUBJECT = re.compile(r"\{% if restores_missing %\}(?P<instead>.*?)\{% else %\}(?P<subject>.*)\{% endif %\}",
                             re.DOTALL)


class _TemplateText(models.Model):
    """Subject and bodies in Django template syntax, restricted to templating.VARIABLES."""

    subject = models.CharField(max_length=300)
    body_text = models.TextField(help_text="Plain text; variables: see the list under the form.")
    body_html = models.TextField(blank=True, help_text="Optional HTML; made from the text when empty.")

    class Meta:
        abstract = True

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        errors: dict = {}
        for field in ("subject", "body_text", "body_html"):
            try:
                templating.validate(getattr(self, field), field)
            except ValidationError as exc:
                errors.update(exc.message_dict)
        if errors:
            raise ValidationError(errors)


class NoticeTemplate(_TemplateText):
    kind = models.CharField(max_length=20, choices=NoticeKind.choices)
    name = models.CharField(max_length=100, unique=True)
    # The one a new notice of this kind starts from.
    is_default = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["kind"], condition=Q(is_default=True), name="one_default_per_kind"),
        ]

    def __str__(self) -> str:
        return self.name


class Notice(_TemplateText):
    """One message to the customers hit by an incident, copied from a template and editable per incident."""

    incident = models.ForeignKey("incidents.Incident", on_delete=models.PROTECT, related_name="notices")
    kind = models.CharField(max_length=20, choices=NoticeKind.choices)
    template = models.ForeignKey(NoticeTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    timeline = models.TextField(blank=True, help_text="The expected timeline, e.g. 'restored by 14:00 CST'.")
    channels = ArrayField(
        models.CharField(max_length=10, choices=[(Channel.EMAIL, "Email"), (Channel.SMS, "SMS")]),
        default=list,
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    # Set once deliveries are queued: the text is frozen into each Delivery from then on.
    queued_at = models.DateTimeField(null=True, blank=True)
    queued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Set by notifications.api.notify_customers (a runbook step's idempotency key): a retried step finds
    # its notice instead of writing a second one.
    dedupe_key = models.CharField(max_length=200, null=True, blank=True, unique=True, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.title} for incident #{self.incident_id}"

    @property
    def title(self) -> str:
        """What people call the notice: a runbook step's own subject (they are all of kind "runbook", which
        tells nobody which one it is), else its kind."""
        if self.kind == NoticeKind.RUNBOOK and self.subject:
            # A subject that claims a restore is kept guarded (notifications.api.guarded_subject): its name is the
            # step's own words, the "else" branch; each customer's delivery shows what that customer was sent.
            guarded = GUARDED_SUBJECT.fullmatch(self.subject)
            words = guarded.group("subject") if guarded else self.subject
            # notifications.api.literal() escaped each "{" of the step's text: undo it to show the words.
            return words.replace("{{ '{' }}", "{")
        return self.get_kind_display()


class NoticeRecipient(models.Model):
    """The audience: computed from the incident, then edited by support (an exclusion survives a recompute)."""

    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="recipients")
    customer = models.ForeignKey("inventory.Customer", on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=10, choices=AudienceSource.choices)
    excluded = models.BooleanField(default=False)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["customer__name"]
        constraints = [models.UniqueConstraint(fields=["notice", "customer"], name="recipient_once")]

    def __str__(self) -> str:
        return f"{self.customer} on {self.notice}"


class StaffPage(models.Model):
    """A message to staff (notify_staff, key-personnel paging, check-in links). dedupe_key makes a repeated
    call a no-op."""

    dedupe_key = models.CharField(max_length=200, unique=True)
    role = models.CharField(max_length=40, blank=True)
    incident = models.ForeignKey(
        "incidents.Incident", null=True, blank=True, on_delete=models.PROTECT, related_name="staff_pages"
    )
    subject = models.CharField(max_length=300)
    body = models.TextField()
    link = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.subject


class Delivery(models.Model):
    """One message to one address on one channel: written before it leaves, claimed with a conditional
    update (queued -> sending), marked sent once the receiver accepted it. The unique constraints are what
    make queuing twice impossible."""

    notice = models.ForeignKey(Notice, null=True, blank=True, on_delete=models.PROTECT, related_name="deliveries")
    page = models.ForeignKey(StaffPage, null=True, blank=True, on_delete=models.PROTECT, related_name="deliveries")
    customer = models.ForeignKey(
        "inventory.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    address = models.CharField(max_length=500)
    state = models.CharField(max_length=10, choices=DeliveryState.choices, default=DeliveryState.QUEUED)
    subject = models.CharField(max_length=300)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    # A link the receiver can act on (an approval link): channels that have a place for one (an Apprise
    # channel's click-through or a link in the card) show it as such, besides the text.
    action_url = models.URLField(max_length=1000, blank=True)
    # The recipient's own one-click unsubscribe (status page subscribers): e-mail carries it in the
    # List-Unsubscribe and List-Unsubscribe-Post headers (RFC 2369, RFC 8058), besides the link in the text.
    unsubscribe_url = models.URLField(max_length=1000, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # The advisory-lock key of the run that claimed it: a later run that can take the lock knows the
    # claiming worker's database session is gone (the worker died).
    claim_key = models.BigIntegerField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # When a channel that was unreachable is tried again (sender.defer: back-off, then "failed" at a limit).
    retry_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["notice", "channel", "address"], condition=Q(notice__isnull=False), name="delivery_once_notice"
            ),
            models.UniqueConstraint(
                fields=["page", "channel", "address"], condition=Q(page__isnull=False), name="delivery_once_page"
            ),
            models.CheckConstraint(
                condition=Q(notice__isnull=False) ^ Q(page__isnull=False), name="delivery_notice_xor_page"
            ),
        ]
        indexes = [
            models.Index(fields=["notice", "state"]),
            models.Index(fields=["page", "state"]),
            models.Index(
                fields=["state"], condition=Q(state__in=["sending", "in_doubt", "failed", "bounced"]),
                name="delivery_attention",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.address} ({self.state})"


class WebhookTarget(models.Model):
    """A Slack-compatible incoming webhook for a staff role (the ops channel). The URL is a secret."""

    name = models.CharField(max_length=100, unique=True)
    url = models.URLField(max_length=500)
    role = models.CharField(max_length=40, blank=True, help_text="Empty: every staff message.")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AppriseChannel(models.Model):
    """A staff alert and paging destination given as an Apprise URL (slack://..., workflows://...,
    pagerduty://...). The URL holds the service's credentials: stored encrypted (drportal.lib.crypto), shown
    only as its scheme once saved. Deliveries address it as "apprise:<id>", so the URL is never copied."""

    name = models.CharField(max_length=100, unique=True)
    scheme = models.CharField(max_length=40, editable=False)
    url_encrypted = models.TextField(editable=False)
    role = models.CharField(max_length=40, blank=True, help_text="Empty: every staff message.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def address(self) -> str:
        return f"apprise:{self.pk}"

    def set_url(self, url: str) -> None:
        from drportal.lib import crypto

        self.scheme = url.split("://", 1)[0].lower()[:40]
        self.url_encrypted = crypto.encrypt(url)

    def url(self) -> str:
        from drportal.lib import crypto

        return crypto.decrypt(self.url_encrypted)


class StatusUpdate(models.Model):
    """A public entry on the status page's timeline. Only this text (and services' public names) is public."""

    incident = models.ForeignKey("incidents.Incident", on_delete=models.PROTECT, related_name="status_updates")
    posted_at = models.DateTimeField()
    posted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()

    class Meta:
        ordering = ["-posted_at"]
        indexes = [models.Index(fields=["incident", "-posted_at"])]

    def __str__(self) -> str:
        return f"update on #{self.incident_id} at {self.posted_at:%Y-%m-%d %H:%M}"


class CheckIn(models.Model):
    """An employee's answer to the check-in link of an office incident."""

    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="checkins")
    person = models.ForeignKey("inventory.Person", on_delete=models.CASCADE, related_name="checkins")
    location = models.CharField(max_length=20, choices=WorkLocation.choices)
    location_note = models.CharField(max_length=200, blank=True)
    has_power = models.BooleanField()
    has_internet = models.BooleanField()
    reported_at = models.DateTimeField()

    class Meta:
        ordering = ["person__name"]
        constraints = [models.UniqueConstraint(fields=["incident", "person"], name="checkin_once")]

    def __str__(self) -> str:
        return f"{self.person} for #{self.incident_id}"

    @property
    def can_work(self) -> bool:
        return self.has_power and self.has_internet


class CustomerExport(models.Model):
    customer = models.ForeignKey("inventory.Customer", on_delete=models.PROTECT, related_name="exports")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=ExportState.choices, default=ExportState.REQUESTED)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Where the archive is: a path under MEDIA_ROOT, or an S3 object.
    path = models.CharField(max_length=500, blank=True)
    s3_bucket = models.CharField(max_length=200, blank=True)
    s3_key = models.CharField(max_length=500, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    manifest = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    downloads = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"export of {self.customer} #{self.pk}"


class StatusSubscriber(models.Model):
    """Someone following the public status page by e-mail (notifications.subscribers). Double opt-in: nothing
    but the confirmation request is sent until confirmed_at is set from the link in it."""

    email = models.EmailField(max_length=254, unique=True)  # stored lower-cased
    created_at = models.DateTimeField()
    # When the last confirmation request was queued: a repeated sign-up within the hour sends no second one.
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["email"]
        indexes = [models.Index(fields=["confirmed_at"], condition=Q(unsubscribed_at__isnull=True),
                                name="status_subscriber_active")]

    def __str__(self) -> str:
        return self.email

    @property
    def is_active(self) -> bool:
        return self.confirmed_at is not None and self.unsubscribed_at is None


class Maintenance(models.Model):
    """A scheduled maintenance window on the public status page and feed, announced to subscribers. Only
    the title, the text and the services' public names are public."""

    title = models.CharField(max_length=200)
    body = models.TextField(help_text="Public text: what is done and what customers will notice.")
    services = models.ManyToManyField("inventory.Service", blank=True, related_name="maintenances",
                                      help_text="Components affected (services with a public name).")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["ends_at"])]
        constraints = [models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")),
                                              name="maintenance_ends_after_start")]

    def __str__(self) -> str:
        return f"{self.title} ({self.starts_at:%Y-%m-%d %H:%M})"
