"""Backups: policies, the records of what was backed up where, one status row per policy-asset pair, daily
rollups, ingestion tokens, restore tests, pollers and scheduled runs. Field-by-field guide: docs/backups.md."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from croniter import croniter
from django.conf import settings
from django.contrib.postgres.indexes import BrinIndex
from django.core.exceptions import ValidationError
from django.db import models

from backups.choices import (
    Freshness,
    LocationRule,
    OffsiteStatus,
    Outcome,
    Overall,
    PolicyKind,
    RecordSource,
    ReportFrequency,
    ReportSendState,
    RestoreTestState,
    RpoStatus,
    SourceKind,
    VerificationStatus,
)


def validate_cron(value: str) -> None:
    if not croniter.is_valid(value) or len(value.split()) != 5:
        raise ValidationError(f"{value!r} is not a five-field cron expression (minute hour day month weekday)")


def validate_time_zone(value: str) -> None:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"{value!r} is not a known time zone") from exc


class BackupPolicy(models.Model):
    """What is protected, how often, for how long, where the copies must sit and how often they are proven."""

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=30, choices=PolicyKind.choices)
    description = models.TextField(blank=True)
    assets = models.ManyToManyField("inventory.Asset", through="PolicyAssetStatus", related_name="backup_policies")
    schedule = models.CharField(max_length=100, validators=[validate_cron], help_text="cron, five fields")
    # Cron times are read in this zone (then converted to UTC) so "03:00 daily" stays 03:00 across DST.
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    grace = models.DurationField(default=timedelta(hours=1))
    rpo_objective = models.DurationField(help_text="the most data the plan may lose")
    retention = models.DurationField(default=timedelta(days=30))
    location_rule = models.CharField(max_length=20, choices=LocationRule.choices, default=LocationRule.ANY)
    target_region = models.ForeignKey(
        "inventory.Region", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # None: no verification rule. Otherwise a passing restore test is needed within this window.
    verify_within = models.DurationField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "backup policies"

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.location_rule == LocationRule.NAMED_REGION and not self.target_region_id:
            raise ValidationError({"target_region": "a policy with a named-region rule needs the region"})
        if self.location_rule != LocationRule.NAMED_REGION and self.target_region_id:
            raise ValidationError({"target_region": "only a named-region rule takes a region"})
        for field in ("grace", "rpo_objective", "retention"):
            value = getattr(self, field)
            if value is not None and value <= timedelta(0):
                raise ValidationError({field: "must be positive"})

    def runs_after(self, moment: datetime, count: int = 3) -> list[datetime]:
        from backups import status

        return status.next_runs(self.schedule, self.time_zone, moment, count)


class BackupRecord(models.Model):
    """One backup attempt. Its facts (times, outcome, size, checksum, location) are frozen once it finished;
    a PostgreSQL trigger refuses changes for everyone (migration 0002). Only what is learnt later about it
    (the stored object's checksum, restore tests) goes in the `observed_*` and `verified_*` columns."""

    FACTS = (
        "policy_id", "asset_id", "client_id", "started_at", "completed_at", "outcome", "error", "size_bytes",
        "sha256", "provider", "region_id", "zone_id", "container", "key", "provider_state", "recovery_point",
        "viable", "expires_at", "source",
    )

    # No single-column indexes on the foreign keys (db_index=False here and on region, zone and token): every
    # index costs each of the 10,000 inserts a second of batch ingestion a random page write (issue 3). Reads by
    # asset use the composite indexes below, which start with asset; policies, regions, zones and tokens are
    # almost never deleted, so the delete-time checks on them may scan (migration 0005).
    policy = models.ForeignKey(BackupPolicy, on_delete=models.PROTECT, related_name="records", db_index=False)
    asset = models.ForeignKey("inventory.Asset", on_delete=models.PROTECT, related_name="backup_records",
                              db_index=False)
    # Supplied by the agent (or derived by a poller); a retry with the same id never makes a second record.
    client_id = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    error = models.TextField(blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    # Where the copy sits.
    provider = models.CharField(max_length=50, blank=True)
    region = models.ForeignKey("inventory.Region", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                               db_index=False)
    zone = models.ForeignKey("inventory.Zone", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                             db_index=False)
    container = models.CharField(max_length=255, blank=True)
    key = models.CharField(max_length=1024, blank=True)
    # What the provider says of an image or snapshot ("available"), or "in_sync" / "diverged" for mirrors.
    provider_state = models.CharField(max_length=50, blank=True)
    # The moment the data can be restored to: a dump's start, a snapshot's creation, the latest restorable
    # time of a point-in-time window, the time a mirror was seen equal to its origin.
    recovery_point = models.DateTimeField(null=True, blank=True)
    viable = models.BooleanField(default=False)
    # After this the copy is gone (retention, or out of the point-in-time window).
    expires_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=20, choices=RecordSource.choices, default=RecordSource.AGENT)
    token = models.ForeignKey("backups.IngestToken", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", db_index=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # Learnt later; not facts of the backup itself.
    observed_sha256 = models.CharField(max_length=64, blank=True)
    checksum_ok = models.BooleanField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    verified_ok = models.BooleanField(null=True, blank=True)
    verified_how = models.CharField(max_length=50, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["asset", "client_id"], condition=~models.Q(client_id=""), name="backup_record_client_id"
            ),
            models.CheckConstraint(condition=models.Q(size_bytes__gte=0), name="backup_record_size_not_negative"),
        ]
        # Every read by asset (the sweep's facts per pair, the asset page, exposure) starts from the asset's
        # few hundred records on the first index; a separate (asset, recovery point) index did not pay for its
        # write cost. (container, key) is the pollers' "seen before" lookup.
        indexes = [
            models.Index(fields=["asset", "policy", "-started_at"], name="backup_rec_asset_pol_started"),
            models.Index(fields=["container", "key"], name="backup_rec_container_key"),
            # /metrics counts the last minutes' records; a BRIN index on an append-only column costs inserts
            # next to nothing (one summary per 128 pages), unlike a B-tree. A range not yet summarised matches
            # every query, so autosummarize has autovacuum summarise each one as soon as the next one starts.
            BrinIndex(fields=["created_at"], name="backup_rec_created_brin", autosummarize=True),
        ]

    def __str__(self) -> str:
        return f"{self.asset_id}/{self.policy_id} {self.outcome} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def location_label(self) -> str:
        parts = [str(self.zone) if self.zone_id else (str(self.region) if self.region_id else self.provider)]
        if self.container or self.key:
            parts.append(f"{self.container}/{self.key}".strip("/"))
        return " · ".join(p for p in parts if p) or "unknown location"

    def is_viable_at(self, now: datetime) -> bool:
        return self.viable and self.checksum_ok is not False and (self.expires_at is None or self.expires_at > now)


class PolicyAssetStatus(models.Model):
    """The through row of policy ↔ asset, holding the derived status the dashboard sorts and filters on.
    Written only by backups.sweep from the raw facts; `recheck_at` is when any of it can next change."""

    policy = models.ForeignKey(BackupPolicy, on_delete=models.CASCADE, related_name="pairs")
    asset = models.ForeignKey("inventory.Asset", on_delete=models.CASCADE, related_name="backup_pairs")
    # Denormalised from the asset at sweep time so the dashboard filters without joins.
    customer = models.ForeignKey("inventory.Customer", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    asset_zone = models.ForeignKey("inventory.Zone", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    asset_region = models.ForeignKey("inventory.Region", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    last_record = models.ForeignKey(BackupRecord, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    last_success_at = models.DateTimeField(null=True, blank=True)
    recovery_point = models.DateTimeField(null=True, blank=True)
    recovery_record = models.ForeignKey(BackupRecord, null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")
    # Newest viable recovery point outside the asset's current zone / region: what survives losing it.
    offzone_recovery_point = models.DateTimeField(null=True, blank=True)
    offregion_recovery_point = models.DateTimeField(null=True, blank=True)
    last_verified_at = models.DateTimeField(null=True, blank=True)
    expected_at = models.DateTimeField(null=True, blank=True)
    next_deadline = models.DateTimeField(null=True, blank=True)
    freshness = models.CharField(max_length=20, choices=Freshness.choices, default=Freshness.NEVER)
    rpo_status = models.CharField(max_length=20, choices=RpoStatus.choices, default=RpoStatus.BREACHED)
    rpo_seconds = models.FloatField(null=True, blank=True)
    offsite = models.CharField(max_length=20, choices=OffsiteStatus.choices, default=OffsiteStatus.NOT_REQUIRED)
    verification = models.CharField(max_length=20, choices=VerificationStatus.choices,
                                    default=VerificationStatus.NOT_REQUIRED)
    overall = models.CharField(max_length=10, choices=Overall.choices, default=Overall.BAD)
    # Set when a record arrives; the sweep recomputes dirty rows and rows whose recheck_at has come.
    dirty = models.BooleanField(default=True)
    recheck_at = models.DateTimeField(null=True, blank=True)
    swept_at = models.DateTimeField(null=True, blank=True)
    changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["policy", "asset"]
        constraints = [models.UniqueConstraint(fields=["policy", "asset"], name="policy_asset_unique")]
        indexes = [
            models.Index(fields=["overall", "next_deadline", "id"], name="pas_overall_deadline"),
            models.Index(fields=["overall", "-rpo_seconds", "id"], name="pas_overall_rpo"),
            # The status list's two unfiltered sorts, read in index order (many pairs share a deadline).
            models.Index(fields=["next_deadline", "id"], name="pas_deadline_id"),
            models.Index(fields=["-rpo_seconds", "id"], name="pas_rpo_id"),
            models.Index(fields=["recheck_at"], name="pas_recheck"),
            models.Index(fields=["dirty"], condition=models.Q(dirty=True), name="pas_dirty"),
            models.Index(fields=["freshness"], name="pas_freshness"),
            models.Index(fields=["rpo_status"], name="pas_rpo"),
            models.Index(fields=["customer", "overall"], name="pas_customer"),
            models.Index(fields=["asset_region", "overall"], name="pas_region"),
            # /metrics names the pairs with the least time left before their objective: per policy, its
            # oldest recovery points (and those it lacks) read in this order (drportal.metrics.collector).
            models.Index(fields=["policy", "recovery_point", "id"], name="pas_policy_point"),
        ]

    def __str__(self) -> str:
        return f"{self.policy} · {self.asset}"


class StatusChange(models.Model):
    """A flip of one status dimension of a pair (the healthchecks Flip): the durable row written before the
    alert, and the list of violations in the compliance report."""

    pair = models.ForeignKey(PolicyAssetStatus, on_delete=models.CASCADE, related_name="changes")
    at = models.DateTimeField()
    dimension = models.CharField(max_length=20)
    before = models.CharField(max_length=20)
    after = models.CharField(max_length=20)
    alert = models.BooleanField(default=False)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-at"]
        indexes = [
            models.Index(fields=["at"], name="statuschange_at"),
            models.Index(fields=["alert", "notified_at"], name="statuschange_pending"),
        ]

    def __str__(self) -> str:
        return f"{self.pair_id} {self.dimension}: {self.before} → {self.after}"


class DailyRollup(models.Model):
    """Pair-seconds observed and compliant per UTC day, policy and customer (None for assets without one, such
    as servers); the compliance report sums these. Per customer rather than per pair keeps a year of history
    small: a few rows per customer and day."""

    day = models.DateField()
    policy = models.ForeignKey(BackupPolicy, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("inventory.Customer", null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="+")
    observed_seconds = models.FloatField(default=0)
    compliant_seconds = models.FloatField(default=0)
    # Of the time not compliant, the part that was fresh, within the RPO and off-site but lacked a restore test:
    # the report names it, so a policy whose rows all read OK does not show 0 % without saying why.
    unverified_seconds = models.FloatField(default=0, db_default=0)  # db_default: raw INSERTs may omit it

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "policy", "customer"], nulls_distinct=False,
                                    name="rollup_day_policy_customer"),
        ]

    def __str__(self) -> str:
        return f"{self.day} policy {self.policy_id} customer {self.customer_id}"


class ObservedDay(models.Model):
    """Wall-clock seconds of one UTC day the sweep observed (integrated into the rollups). A report's
    percentages rest on these: a "30 days" report over 1.5 observed hours must say so."""

    day = models.DateField(unique=True)
    seconds = models.FloatField(default=0)

    def __str__(self) -> str:
        return f"{self.day}: {self.seconds:.0f} s observed"


class SweepState(models.Model):
    """Named cursors of the sweep: "rollup" (up to when rollups are integrated, claimed with a conditional
    update so two sweeps never count the same interval twice) and "down-zones" (which zones were down at the
    last sweep; a change marks every pair dirty)."""

    name = models.CharField(max_length=50, unique=True)
    until = models.DateTimeField(null=True, blank=True)
    value = models.TextField(blank=True)

    def __str__(self) -> str:
        return self.name


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class IngestToken(models.Model):
    """A bearer token for the ingestion API, scoped to one policy or one provider account. Only its SHA-256
    is stored: the token is shown once, when made."""

    name = models.CharField(max_length=200)
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)
    policy = models.ForeignKey(BackupPolicy, null=True, blank=True, on_delete=models.CASCADE, related_name="tokens")
    account = models.ForeignKey("inventory.ProviderAccount", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(policy__isnull=False) | models.Q(account__isnull=False), name="token_has_scope"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, name: str, *, policy=None, account=None, created_by=None) -> tuple[IngestToken, str]:
        """Make a token; returns (row, raw token). The raw token exists only in this return value."""
        raw = "drb_" + secrets.token_urlsafe(32)
        token = cls.objects.create(
            name=name, digest=hash_token(raw), prefix=raw[:10], policy=policy, account=account, created_by=created_by
        )
        return token, raw


class RestoreTest(models.Model):
    """A request to prove that a backup restores: written before the job touches anything."""

    record = models.ForeignKey(BackupRecord, on_delete=models.CASCADE, related_name="restore_tests")
    state = models.CharField(max_length=20, choices=RestoreTestState.choices, default=RestoreTestState.QUEUED)
    method = models.CharField(max_length=30, blank=True)
    requested_by = models.CharField(max_length=200, blank=True)
    requested_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    detail = models.TextField(blank=True)
    row_count = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        indexes = [models.Index(fields=["state"], name="restoretest_state")]

    def __str__(self) -> str:
        return f"restore test #{self.pk} of record {self.record_id}: {self.state}"


class BackupSource(models.Model):
    """A place a poller looks for backups: a bucket, an RDS account, a storage container, a repository."""

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=SourceKind.choices)
    policy = models.ForeignKey(BackupPolicy, on_delete=models.CASCADE, related_name="sources")
    account = models.ForeignKey("inventory.ProviderAccount", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+")
    container = models.CharField(max_length=255, blank=True, help_text="bucket or container")
    prefix = models.CharField(max_length=500, blank=True)
    # A regular expression with a named group "asset" matched against Asset.name (or its external_id).
    pattern = models.CharField(max_length=500, default=r"(?P<asset>[^/]+)/")
    region = models.ForeignKey("inventory.Region", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    zone = models.ForeignKey("inventory.Zone", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    schedule = models.CharField(max_length=100, default="*/15 * * * *", validators=[validate_cron])
    enabled = models.BooleanField(default=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        import re

        try:
            compiled = re.compile(self.pattern)
        except re.error as exc:
            raise ValidationError({"pattern": f"not a regular expression: {exc}"}) from exc
        if self.kind not in (SourceKind.GIT,) and "asset" not in compiled.groupindex:
            raise ValidationError({"pattern": "needs a named group (?P<asset>...)"})


class UnmatchedObject(models.Model):
    """An object a poller found that no asset pattern matched: listed, never dropped."""

    source = models.ForeignKey(BackupSource, on_delete=models.CASCADE, related_name="unmatched")
    key = models.CharField(max_length=1024)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()

    class Meta:
        ordering = ["source", "key"]
        constraints = [models.UniqueConstraint(fields=["source", "key"], name="unmatched_source_key")]

    def __str__(self) -> str:
        return self.key


class ScheduledRun(models.Model):
    """One row per (task, scheduled time): the unique constraint is what stops two schedulers from enqueueing
    the same run twice, on any PostgreSQL, without advisory locks."""

    task = models.CharField(max_length=100)
    scheduled_for = models.DateTimeField()
    enqueued_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-scheduled_for"]
        constraints = [models.UniqueConstraint(fields=["task", "scheduled_for"], name="scheduled_run_unique")]

    def __str__(self) -> str:
        return f"{self.task} @ {self.scheduled_for:%Y-%m-%d %H:%M}"


class CustomerExposure(models.Model):
    """What one customer would lose if one zone or region went down now, from the off-zone and off-region
    recovery points of its pairs: written by the sweep (backups.exposure.store) for the customers whose pairs
    it recomputed, so the exposure page reads one page of rows in index order instead of aggregating every
    pair on each view."""

    scope = models.CharField(max_length=10)  # "zone" or "region"
    location_id = models.BigIntegerField()  # a Zone's id or a Region's, by scope
    customer = models.ForeignKey("inventory.Customer", on_delete=models.CASCADE, related_name="+")
    assets = models.IntegerField()
    assets_without_copy = models.IntegerField()
    # Some asset has no viable copy outside the location: everything of it would be lost. The page's first rows.
    everything_lost = models.BooleanField()
    # The oldest of the assets' newest surviving recovery points (None when everything_lost, or when every
    # asset fails over to a synchronous standby and nothing is lost).
    oldest_recovery_point = models.DateTimeField(null=True, blank=True)
    objective_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "location_id", "customer"],
                                    name="exposure_scope_location_customer"),
        ]
        indexes = [
            # Worst first: no surviving copy, then the largest loss (the oldest recovery point).
            models.Index(fields=["scope", "-everything_lost", "oldest_recovery_point", "location_id", "customer"],
                         name="exposure_worst_first"),
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.location_id} customer {self.customer_id}"


class SuspectPoint(models.Model):
    """A person's judgement that a recovery point may hold damage (written before a corruption or ransomware was
    found, say). The record's facts stay frozen; the mark lives beside them. A suspect point is never the default
    of a restore, and restoring from it needs a manager's approval (scenarios.recovery_points)."""

    record = models.OneToOneField(BackupRecord, on_delete=models.PROTECT, related_name="suspect")
    reason = models.TextField()
    marked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    marked_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"backup #{self.record_id} suspect: {self.reason[:60]}"


class ReportSubscription(models.Model):
    """A manager's standing order for the compliance report by e-mail (backups.report_mail). No policies and
    no customers chosen means all of them."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="report_subscriptions")
    frequency = models.CharField(max_length=10, choices=ReportFrequency.choices)
    policies = models.ManyToManyField(BackupPolicy, blank=True, related_name="+")
    customers = models.ManyToManyField("inventory.Customer", blank=True, related_name="+")
    created_at = models.DateTimeField()
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["user", "frequency", "pk"]

    def __str__(self) -> str:
        return f"{self.get_frequency_display()} compliance report for {self.user}"


class ReportSend(models.Model):
    """One report of one subscription for one period. The unique (subscription, period_start) is what makes
    two schedulers send it once; the conditional update queued -> sending is what makes two workers send it
    once. `summary` is what the next report compares itself with."""

    subscription = models.ForeignKey(ReportSubscription, on_delete=models.CASCADE, related_name="sends")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    state = models.CharField(max_length=10, choices=ReportSendState.choices, default=ReportSendState.QUEUED)
    address = models.CharField(max_length=254, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-period_start"]
        constraints = [models.UniqueConstraint(fields=["subscription", "period_start"], name="report_send_once")]
        indexes = [models.Index(fields=["state"])]

    def __str__(self) -> str:
        return f"{self.subscription} for {self.period_start:%Y-%m-%d}"
