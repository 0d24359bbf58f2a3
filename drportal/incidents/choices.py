from __future__ import annotations

from django.db import models


class Severity(models.TextChoices):
    SEV1 = "sev1", "SEV1 — customers cannot use the service"
    SEV2 = "sev2", "SEV2 — degraded, or one component lost"
    SEV3 = "sev3", "SEV3 — internal only (office, staff)"
    SEV4 = "sev4", "SEV4 — minor"


class IncidentStatus(models.TextChoices):
    DECLARED = "declared", "Declared"
    RESPONDING = "responding", "Responding"
    RECOVERED = "recovered", "Recovered"
    CLOSED = "closed", "Closed"


# Allowed transitions: a closed incident stays closed; recovery can be undone while responding.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    IncidentStatus.DECLARED: (IncidentStatus.RESPONDING, IncidentStatus.RECOVERED, IncidentStatus.CLOSED),
    IncidentStatus.RESPONDING: (IncidentStatus.RECOVERED, IncidentStatus.CLOSED),
    IncidentStatus.RECOVERED: (IncidentStatus.RESPONDING, IncidentStatus.CLOSED),
    IncidentStatus.CLOSED: (),
}


class DisasterClass(models.TextChoices):
    OFFICE_POWER_INTERNET = "office_power_internet", "Office power or Internet loss"
    OFFICE_DESTROYED = "office_destroyed", "Office destroyed or inaccessible"
    SERVER_CRASH = "server_crash", "Cloud server crashed"
    DATACENTER_OFFLINE = "datacenter_offline", "Data center (region) offline"
    DATABASE_PRIMARY_FAILURE = "database_primary_failure", "Primary database failed (failover)"
    DATABASE_TOTAL_LOSS = "database_total_loss", "Primary and secondary databases lost"
    APP_SERVER_LOST = "app_server_lost", "Application server lost"
    CACHE_FAILOVER = "cache_failover", "Cache (Redis) node failed over"
    CACHE_TOTAL_LOSS = "cache_total_loss", "Both cache (Redis) nodes lost"
    ALL_DATACENTERS_LOST = "all_datacenters_lost", "All data centers lost"
    OTHER = "other", "Other"
