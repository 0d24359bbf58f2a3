from __future__ import annotations

from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q

from scenarios.choices import MitigationKind, MitigationStatus, RunState, StepKind, StepState


class Run(models.Model):
    """One execution of a scenario for one incident. The unique incident is what makes two Execute
    clicks start one run: the second insert fails in PostgreSQL, whatever the timing."""

    incident = models.OneToOneField("incidents.Incident", on_delete=models.PROTECT, related_name="scenario_run")
    scenario_id = models.CharField(max_length=80, db_index=True)
    scenario_title = models.CharField(max_length=200)
    digest = models.CharField(max_length=16)
    # The scenario as it was when the run started: editing the file later never changes a running plan.
    spec = models.JSONField()
    bindings = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=20, choices=RunState.choices, default=RunState.RUNNING)
    drill = models.BooleanField(default=False)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["scenario_id", "-started_at"]), models.Index(fields=["state"])]

    def __str__(self) -> str:
        return f"run #{self.pk} of {self.scenario_id}"

    @property
    def rto_minutes(self) -> int:
        return self.spec["objectives"]["rto_minutes"]

    def elapsed(self, now: datetime) -> timedelta:
        return (self.finished_at or now) - self.started_at

    def rto_left(self, now: datetime) -> timedelta:
        return timedelta(minutes=self.rto_minutes) - self.elapsed(now)


class StepRun(models.Model):
    # Not indexed alone: the unique (run, step_id, item) below serves every lookup by run (issue 17: each of a
    # fan-out's updates of a row writes every non-partial index of the table).
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps", db_index=False)
    step_id = models.CharField(max_length=80)
    # For steps that fan out (for_each: server), the item this row is for; "" otherwise.
    item = models.CharField(max_length=200, blank=True, default="")
    position = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=20, choices=StepKind.choices)
    title = models.CharField(max_length=300)
    state = models.CharField(max_length=20, choices=StepState.choices, default=StepState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=5)
    # Stable across retries and workers: actions use it in provider-side names and tokens.
    # Unique by a constraint in Meta, not unique=True: that also built a LIKE (pattern) index nothing queries.
    idempotency_key = models.CharField(max_length=64)
    params = models.JSONField(default=dict, blank=True)
    action_state = models.JSONField(default=dict, blank=True)
    outputs = models.JSONField(default=dict, blank=True)
    log = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    # Who or what is on it: the person who completed it, or the worker holding it.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+", db_index=False)
    actor_label = models.CharField(max_length=200, blank=True)
    notes = models.TextField(blank=True)
    evidence = models.TextField(blank=True)
    skip_reason = models.TextField(blank=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    # The next moment something is due: a poll of a long action, a retry after backoff, the end of a wait
    # or its next reminder. Indexed because the poller and the reconciler sort by it.
    due_at = models.DateTimeField(null=True, blank=True)
    # A worker holds a running step until lease_until and renews it while working; a lapsed lease means
    # the worker died, and the reconciler requeues the step.
    lease_until = models.DateTimeField(null=True, blank=True)
    reminders_sent = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["run", "position", "item"]
        constraints = [
            models.UniqueConstraint(fields=["run", "step_id", "item"], name="steprun_unique_step_item"),
            models.UniqueConstraint(fields=["idempotency_key"], name="steprun_unique_idempotency_key"),
        ]
        # Partial indexes, each holding only the rows its reader looks for: the poller's waiting rows by
        # deadline, the reconciler's running rows by lease, the people who completed a step (deleting a user
        # checks them). A row in any other state has no entry to write, and a fan-out updates each row five or
        # six times (running, waiting, then ready again unless the poller claims it itself, running, done), none
        # of them HOT because state is in the index conditions.
        indexes = [
            models.Index(fields=["due_at"], condition=Q(state=StepState.WAITING), name="steprun_waiting_due"),
            models.Index(fields=["lease_until"], condition=Q(state=StepState.RUNNING), name="steprun_running_lease"),
            models.Index(fields=["actor"], condition=Q(actor__isnull=False), name="steprun_actor"),
        ]

    def __str__(self) -> str:
        return f"{self.step_id}{'[' + self.item + ']' if self.item else ''} of run #{self.run_id}"

    @property
    def spec(self) -> dict:
        return next(s for s in self.run.spec["steps"] if s["id"] == self.step_id)

    @property
    def is_open(self) -> bool:
        return self.state in (StepState.READY, StepState.WAITING, StepState.RUNNING, StepState.FAILED,
                              StepState.PENDING)

    def elapsed(self, now: datetime) -> timedelta | None:
        if not self.started_at and not self.ready_at:
            return None
        return (self.finished_at or now) - (self.started_at or self.ready_at)


class Drill(models.Model):
    """A rehearsal: a run in drill mode (simulated cloud only) and what it measured."""

    scenario_id = models.CharField(max_length=80, db_index=True)
    run = models.OneToOneField(Run, on_delete=models.PROTECT, related_name="drill_record")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    rto_objective_minutes = models.PositiveIntegerField()
    # The plan's promise for what the drill recovered (scenarios.promise); null when no policy covers it and
    # the scenario sets none.
    rpo_objective_minutes = models.PositiveIntegerField(null=True, blank=True)
    # The newest data the recovery would have had (the backups app's latest restorable point, when known).
    recovery_point = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True)
    # The recovery steps the drill did not really perform, each "title: why" (only planned on the simulated
    # cloud, not applicable, skipped, cancelled): written when the drill ends. With any, no RTO is claimed.
    not_exercised = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["scenario_id", "-started_at"])]

    def __str__(self) -> str:
        return f"drill of {self.scenario_id} at {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def measured_rto(self) -> timedelta | None:
        return self.finished_at - self.started_at if self.finished_at else None

    @property
    def rto_met(self) -> bool | None:
        """None when not measured: the drill is not over, or some recovery step was not exercised (a drill that
        only planned has not shown the objective can be met)."""
        rto = self.measured_rto
        if rto is None or self.not_exercised:
            return None
        return rto <= timedelta(minutes=self.rto_objective_minutes)

    @property
    def data_loss(self) -> timedelta | None:
        return self.started_at - self.recovery_point if self.recovery_point else None

    @property
    def rpo_met(self) -> bool | None:
        """Did the recovery point keep the plan's promise? None when either is unknown."""
        loss = self.data_loss
        if loss is None or self.rpo_objective_minutes is None:
            return None
        return loss <= timedelta(minutes=self.rpo_objective_minutes)

    @property
    def promise_sentences(self) -> list[str]:
        """What the drill report says in words about the promise: a looser scenario, a broken promise."""
        from scenarios import promise

        bindings = self.run.bindings
        said = [promise.Objective(bindings.get("rpo_accepts_minutes"), bindings.get("rpo_promise_minutes"),
                                  tuple(bindings.get("rpo_promise_policies", ()))).sentence]
        if self.rpo_met is False:
            said.append(promise.loss_sentence(self.rpo_objective_minutes, self.data_loss.total_seconds(),
                                              "this recovery"))
        return [s for s in said if s]


class Mitigation(models.Model):
    """A standing measure the plan counts on (co-working memberships, insurance, credit line, ...)."""

    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=30, choices=MitigationKind.choices, default=MitigationKind.OTHER)
    owner = models.CharField(max_length=200)
    renews_on = models.DateField(null=True, blank=True, db_index=True)
    last_checked_on = models.DateField(null=True, blank=True)
    check_every_days = models.PositiveIntegerField(default=90)
    quote = models.TextField(blank=True)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["renews_on", "title"]

    def __str__(self) -> str:
        return self.title

    def status(self, today: date) -> str:
        if self.renews_on and self.renews_on < today:
            return MitigationStatus.EXPIRED
        if not self.last_checked_on or self.last_checked_on + timedelta(days=self.check_every_days) < today:
            return MitigationStatus.UNCHECKED
        if self.renews_on and self.renews_on <= today + timedelta(days=30):
            return MitigationStatus.DUE
        return MitigationStatus.OK


class Review(models.Model):
    """The post-incident review the seed asks for: cause, the changes re-created, what to do next."""

    incident = models.OneToOneField("incidents.Incident", on_delete=models.PROTECT, related_name="review")
    cause = models.TextField()
    changes_recreated = models.TextField(blank=True, help_text="What changed since the last image and was re-created")
    prevention = models.TextField(blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"review of incident #{self.incident_id}"


class FollowUp(models.Model):
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="follow_ups")
    text = models.CharField(max_length=500)
    owner = models.CharField(max_length=200)
    due_on = models.DateField()
    done = models.BooleanField(default=False)

    class Meta:
        ordering = ["due_on", "id"]

    def __str__(self) -> str:
        return self.text



class Snapshot(models.Model):
    """A result the pages read instead of computing it on every view (scenarios.snapshots): every scenario's
    readiness checks (key "readiness": assessing the library reads every server and system image, about 2 s
    at 5,000 servers) and a run's data-loss window (key "loss:run:<id>": every customer's assets in the lost
    zones). Recomputed by a job once older than a minute, or at once when what it was computed for changed."""

    key = models.CharField(max_length=100, unique=True)
    computed_at = models.DateTimeField()
    # What the data was computed for (scenario files and installed actions, or lost zones): another basis
    # means recompute before showing.
    basis = models.CharField(max_length=64)
    data = models.JSONField(default=dict)
    # Set when a refresh job is enqueued; a claim older than a few minutes (the job was lost) can be taken again.
    refresh_claimed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.key} as of {self.computed_at:%Y-%m-%d %H:%M:%S}"


class ApprovalLink(models.Model):
    """A single-use, short-lived link in the message asking someone to approve a step
    (scenarios.approval_links). The token in the URL is signed and names this row; the row decides.
    A link e-mailed to a person is theirs alone (user); a link posted to a shared Apprise channel (Slack,
    Teams, PagerDuty) has no user: whoever in the channel signs in first with the step's role may use it."""

    step = models.ForeignKey(StepRun, on_delete=models.CASCADE, related_name="approval_links")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="+")
    # The shared channel a link without a user was posted to (its name), for the page and the audit log.
    channel = models.CharField(max_length=100, blank=True)
    # Part of the signed token: a link id alone, even signed by a leaked old key, names no live row.
    nonce = models.CharField(max_length=32)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"approval link for {self.user or self.channel} on step #{self.step_id}"
