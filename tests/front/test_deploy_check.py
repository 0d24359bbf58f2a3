from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def run_check(extra_env: dict[str, str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": settings.DATABASE_URL, "REDIS_URL": settings.REDIS_URL, **extra_env}
    # Set by the browser tests' fixture for Playwright; never part of a deployment.
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def test_production_mode_passes_check_deploy_with_no_warnings():
    result = run_check({
        "DRPORTAL_ENV": "production",
        "SECRET_KEY": "k" * 20 + "-a-long-random-production-secret-key-0123456789",
        "ALLOWED_HOSTS": "drportal.example.com",
    })
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_mode_refuses_to_start_without_a_secret_key():
    env = {"DRPORTAL_ENV": "production", "SECRET_KEY": "", "ALLOWED_HOSTS": "drportal.example.com"}
    result = run_check(env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
