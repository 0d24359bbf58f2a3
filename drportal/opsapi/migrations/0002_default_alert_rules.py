"""Default alert rules, so a fresh install turns the usual outage alerts into incident proposals.

The alert names are the ones of widely used rule sets: Prometheus's own InstanceDown example (up == 0), and
PostgresqlDown, MysqlDown and RedisDown from awesome-prometheus-alerts; RegionDown and ZoneDown are the
examples in docs/prometheus-rules.yml. What is down is read from the alert's `region`, `zone` or `server`
label (a target label set in Prometheus's scrape configuration). Every default only proposes: ops declare with
one click, and an admin may switch a rule to auto-declare, change it or turn it off on the rules page. They
sit after position 100 (a new rule's default), so rules an admin adds are tried first.
"""

from django.db import migrations
from django.utils import timezone

DEFAULTS = [
    # name, position, matchers, disaster class, severity, scope label
    ("Region down (default)", 900, {"alertname": "RegionDown|DatacenterDown"}, "datacenter_offline", "sev1",
     "region"),
    ("Zone down (default)", 910, {"alertname": "ZoneDown|AvailabilityZoneDown"}, "datacenter_offline", "sev1",
     "zone"),
    ("Primary database down (default)", 920, {"alertname": "PostgresqlDown|MysqlDown"},
     "database_primary_failure", "sev1", "server"),
    ("Cache node down (default)", 930, {"alertname": "RedisDown"}, "cache_failover", "sev2", "server"),
    ("Server down (default)", 940, {"alertname": "InstanceDown|HostDown|HostUnreachable"}, "server_crash", "sev2",
     "server"),
]


def add_defaults(apps, schema_editor):
    AlertRule = apps.get_model("opsapi", "AlertRule")
    AuditEvent = apps.get_model("audit", "AuditEvent")
    for name, position, matchers, disaster_class, severity, scope_label in DEFAULTS:
        fields = {"position": position, "matchers": matchers, "disaster_class": disaster_class,
                  "severity": severity, "scope_label": scope_label, "auto_declare": False, "active": True}
        # get_or_create: an install that already made a rule of this name keeps its own.
        rule, created = AlertRule.objects.get_or_create(name=name, defaults=fields)
        if created:
            AuditEvent.objects.create(
                at=timezone.now(), actor_label="migration opsapi.0002_default_alert_rules",
                action="alert_rule.created", object_type="opsapi.alertrule", object_id=str(rule.pk),
                object_repr=name, after={"name": name, **fields}, note="a default rule of a fresh install")


def remove_untouched_defaults(apps, schema_editor):
    AlertRule = apps.get_model("opsapi", "AlertRule")
    for name, position, matchers, *_ in DEFAULTS:
        AlertRule.objects.filter(name=name, position=position, matchers=matchers, proposals__isnull=True).delete()


class Migration(migrations.Migration):

    dependencies = [("opsapi", "0001_alerts_and_api_tokens"), ("audit", "0002_append_only_trigger")]

    operations = [migrations.RunPython(add_defaults, remove_untouched_defaults)]
