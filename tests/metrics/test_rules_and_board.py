"""docs/prometheus-rules.yml and docs/grafana-dashboard.json: valid, about metrics /metrics really has, and the
RPO alert fires for exactly the pairs drportal says breach their objective (promtool's own rule tests)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import peer_missing
from tests.metrics.conftest import scrape

DOCS = Path(__file__).resolve().parents[2] / "docs"
RULES = DOCS / "prometheus-rules.yml"
BOARD = DOCS / "grafana-dashboard.json"
NAME = re.compile(r"\bdrportal_[a-z_]+\b")


def promtool() -> str:
    found = shutil.which("promtool")
    if not found:
        peer_missing("promtool (Debian package prometheus)")
    return found


def exported_names(families: dict) -> set[str]:
    """Sample names, and the families announced by # TYPE even while they have no sample (no incident yet)."""
    return set(families) | {s.name for samples in families.values() for s in samples}


def rule_exprs() -> list[str]:
    return [r["expr"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def board_exprs() -> list[str]:
    return [t["expr"] for p in json.loads(BOARD.read_text())["panels"] for t in p["targets"]]


def test_promtool_accepts_the_rules_file():
    result = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_board_is_a_grafana_dashboard_with_prometheus_panels():
    board = json.loads(BOARD.read_text())
    assert board["uid"] == "drportal-overview"
    assert len(board["panels"]) >= 10
    assert all(p["datasource"]["type"] == "prometheus" and p["targets"] for p in board["panels"])


@pytest.mark.parametrize("exprs", [board_exprs, rule_exprs], ids=["board", "rules"])
def test_every_metric_they_use_is_on_metrics(exprs, swept, client):
    names = exported_names(scrape(client))
    used = {n for e in exprs() for n in NAME.findall(e)}
    assert used, "no drportal metric used at all"
    assert used - names == set()


def series(sample) -> str:
    labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
    return f"{sample.name}{{{labels}}}"


def values(value: float, minutes: int = 30) -> str:
    """The same value every minute, in promtool's series notation (which spells infinity +Inf)."""
    return " ".join(["+Inf" if value == float("inf") else f"{value:g}"] * (minutes + 1))


def test_the_rpo_alert_fires_for_the_breached_pairs_only(swept, client, tmp_path):
    families = scrape(client)
    wanted = ["drportal_backup_recovery_point_age_seconds", "drportal_backup_policy_active"]
    inputs = [{"series": series(s), "values": values(s.value)} for name in wanted for s in families[name]]
    breached = [s.labels for s in families["drportal_backup_recovery_point_age_seconds"]
                if s.labels["rpo"] == "breached"]
    # Never backed up: zeta-db (two policies), db1's image, the RDS instance. acme-db is within both objectives.
    assert sorted(b["asset"] for b in breached) == ["cybernance-rds", "db1", "zeta-db", "zeta-db"]
    expected = [{"exp_labels": {**b, "severity": "critical"},
                 "exp_annotations": {
                     "summary": f"{b['asset']} is past its RPO under {b['policy']}",
                     "description": f"drportal's last sweep found no viable recovery point within the objective "
                                    f"of {b['policy']}."}}
                for b in breached]
    spec = {"rule_files": [str(RULES)], "evaluation_interval": "1m",
            "tests": [{"interval": "1m", "input_series": inputs,
                       "alert_rule_test": [{"eval_time": "10m", "alertname": "DrportalRpoBreached",
                                            "exp_alerts": expected}]}]}
    test_file = tmp_path / "rpo-test.yml"
    test_file.write_text(yaml.safe_dump(spec))
    result = subprocess.run([promtool(), "test", "rules", str(test_file)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_age_rule_fires_from_the_stored_recovery_points_even_without_the_sweeps_verdict(swept, client, tmp_path):
    families = scrape(client)
    wanted = ["drportal_backup_recovery_point_age_seconds", "drportal_backup_rpo_objective_seconds"]
    inputs = [{"series": series(s), "values": values(s.value)} for name in wanted for s in families[name]]
    # acme-db's dump (5 h old) and copy (6 days) are within their objectives; the pairs never backed up are not.
    older = [s.labels for s in families["drportal_backup_recovery_point_age_seconds"] if s.value == float("inf")]
    assert sorted(o["asset"] for o in older) == ["cybernance-rds", "db1", "zeta-db", "zeta-db"]
    expected = [{"exp_labels": {**o, "severity": "critical"},
                 "exp_annotations": {"summary": f"{o['asset']}: newest recovery point is +Inf old ({o['policy']})"}}
                for o in older]
    spec = {"rule_files": [str(RULES)], "evaluation_interval": "1m",
            "tests": [{"interval": "1m", "input_series": inputs,
                       "alert_rule_test": [{"eval_time": "20m", "alertname": "DrportalRecoveryPointOlderThanObjective",
                                            "exp_alerts": expected}]}]}
    test_file = tmp_path / "age-test.yml"
    test_file.write_text(yaml.safe_dump(spec))
    result = subprocess.run([promtool(), "test", "rules", str(test_file)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
