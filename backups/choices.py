"""The words of the backups app, in one place."""

from __future__ import annotations

from django.db import models


class PolicyKind(models.TextChoices):
    DATABASE_DUMP = "database_dump", "Database dump"
    SYSTEM_IMAGE = "system_image", "System image"
    VOLUME_SNAPSHOT = "volume_snapshot", "Volume snapshot"
    POINT_IN_TIME = "point_in_time", "Continuous log / point-in-time"
    REPOSITORY_MIRROR = "repository_mirror", "Repository mirror"
    FILE_COPY = "file_copy", "File copy"


# Kinds whose viability is "the provider reports the image or snapshot available".
PROVIDER_STATE_KINDS = (PolicyKind.SYSTEM_IMAGE, PolicyKind.VOLUME_SNAPSHOT)
# Kinds whose viability rests on a checksum of the stored object.
CHECKSUM_KINDS = (PolicyKind.DATABASE_DUMP, PolicyKind.FILE_COPY)


class LocationRule(models.TextChoices):
    ANY = "any", "Anywhere"
    OFFSITE_REGION = "offsite_region", "Off-site: another region than where the asset runs now"
    OFFSITE_ZONE = "offsite_zone", "Off-site: another zone than where the asset runs now"
    NAMED_REGION = "named_region", "In a named region"


class Outcome(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class RecordSource(models.TextChoices):
    AGENT = "agent", "Agent (API)"
    POLLER = "poller", "Poller"
    MANUAL = "manual", "Manual"


class Freshness(models.TextChoices):
    OK = "ok", "OK"
    DUE = "due", "Due"
    LATE = "late", "Late"
    FAILED = "failed", "Failed"
    NEVER = "never", "Never"


class RpoStatus(models.TextChoices):
    OK = "ok", "OK"
    AT_RISK = "at_risk", "At risk"
    BREACHED = "breached", "Breached"


class OffsiteStatus(models.TextChoices):
    NOT_REQUIRED = "not_required", "No rule"
    OK = "ok", "Off-site"
    CO_LOCATED = "co_located", "Co-located"
    WRONG_REGION = "wrong_region", "Not in the named region"
    MISSING = "missing", "No viable copy"


class VerificationStatus(models.TextChoices):
    NOT_REQUIRED = "not_required", "No rule"
    VERIFIED = "verified", "Verified"
    UNVERIFIED = "unverified", "Unverified"


class RestoreTestState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"


class SourceKind(models.TextChoices):
    S3 = "s3", "S3 bucket (boto3)"
    RDS_SNAPSHOTS = "rds_snapshots", "RDS snapshots"
    RDS_PITR = "rds_pitr", "RDS point-in-time window"
    OBJECTSTORE = "objectstore", "libcloud storage container (Cloud Files, local)"
    GIT = "git", "Git origin and mirrors"


class Overall(models.TextChoices):
    """One colour and one word per policy-asset pair: the worst of its four dimensions."""

    OK = "ok", "OK"
    WARNING = "warning", "Warning"
    BAD = "bad", "Bad"


# States that alert ops once per change (issue: late, failed, breached, co-located, unverified).
ALERT_STATES = {
    "freshness": {Freshness.LATE, Freshness.FAILED},
    "rpo_status": {RpoStatus.BREACHED},
    "offsite": {OffsiteStatus.CO_LOCATED},
    "verification": {VerificationStatus.UNVERIFIED},
}


class ReportFrequency(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly (Mondays)"
    MONTHLY = "monthly", "Monthly (the 1st)"


class ReportSendState(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    # The worker stopped between handing the message to SMTP and recording the answer: never resent alone.
    IN_DOUBT = "in_doubt", "In doubt"
