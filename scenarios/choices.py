from __future__ import annotations

from django.db import models


class RunState(models.TextChoices):
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    FAILED = "failed", "Failed (resumable)"
    SUCCEEDED = "succeeded", "Succeeded"
    # Every step finished, but a recovery step had nothing to act on (no target in the incident's scope,
    # or a parameter it needs is unknown) or a person skipped it: the run says what was not recovered
    # (Run.note), never "Succeeded".
    INCOMPLETE = "incomplete", "Finished: not everything recovered"
    ABORTED = "aborted", "Aborted"


class StepState(models.TextChoices):
    PENDING = "pending", "Pending"
    READY = "ready", "Ready"
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
    # The step had no target in the incident's scope (a per-server step with no server) or lacks a value it
    # needs; StepRun.skip_reason says which. Distinct from SKIPPED (a branch not taken, or a person's skip).
    NOT_APPLICABLE = "not_applicable", "Not applicable"
    CANCELLED = "cancelled", "Cancelled"


class StepKind(models.TextChoices):
    MANUAL = "manual", "Manual"
    DECISION = "decision", "Decision"
    WAIT = "wait", "Wait"
    APPROVAL = "approval", "Approval"
    AUTOMATED = "automated", "Automated"
    NOTIFY = "notify", "Notify"


# A step in one of these is finished; steps after it may go on.
DONE_STATES = (StepState.SUCCEEDED, StepState.SKIPPED, StepState.NOT_APPLICABLE)
TERMINAL_STATES = (StepState.SUCCEEDED, StepState.SKIPPED, StepState.NOT_APPLICABLE, StepState.CANCELLED)
# A run in one of these is over: nothing more can change.
FINAL_RUN_STATES = (RunState.SUCCEEDED, RunState.INCOMPLETE, RunState.ABORTED)


class StepOutcome(models.TextChoices):
    """How a finished (or open) step row is counted in a run's summary (engine.step_outcome)."""

    DONE = "done", "done"
    # Succeeded as far as the action could, then handed the rest over (the volume was gone: restore from cloud
    # storage; the address could not move: change DNS). Not "done": the work is the follow-up step's row.
    HANDED_OVER = "handed_over", "handed over"
    BRANCH_NOT_TAKEN = "branch_not_taken", "branch not taken"
    NOT_APPLICABLE = "not_applicable", "not applicable"
    SKIPPED = "skipped", "skipped by a person"
    FAILED = "failed", "failed"
    CANCELLED = "cancelled", "cancelled"
    OPEN = "open", "not finished"
# Kinds a job performs; the others wait for a person (or a timer, for wait steps).
JOB_KINDS = (StepKind.AUTOMATED, StepKind.NOTIFY)
PERSON_KINDS = (StepKind.MANUAL, StepKind.DECISION, StepKind.APPROVAL)


class MitigationKind(models.TextChoices):
    COWORKING = "coworking", "Co-working membership"
    INSURANCE = "insurance", "Insurance policy"
    CREDIT_LINE = "credit_line", "Credit line"
    EQUIPMENT = "equipment", "Laptops and home Internet"
    PHONE_FORWARDING = "phone_forwarding", "Phone forwarding"
    OFFSITE_CODE = "offsite_code", "Off-site code repository"
    OFFSITE_RECORDS = "offsite_records", "Off-site records backup"
    PHONE_REMOTE = "phone_remote", "Phone system from laptops and phones"
    PUBLIC_WIFI = "public_wifi", "Public Wi-Fi"
    PAYMENTS = "payments", "Payment channels"
    HOSTING = "hosting", "Hosting redundancy"
    REPLICATION = "replication", "Replication and failover"
    BACKUPS = "backups", "Backups"
    OTHER = "other", "Other"


class MitigationStatus(models.TextChoices):
    OK = "ok", "OK"
    DUE = "due", "Renewal due soon"
    UNCHECKED = "unchecked", "Not checked recently"
    EXPIRED = "expired", "Expired"
