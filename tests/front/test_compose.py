from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.conftest import peer_missing

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
ENV = {**os.environ, "POSTGRES_PASSWORD": "pw", "SECRET_KEY": "sk", "DRPORTAL_FERNET_KEYS": "fk"}


def test_docker_compose_config_accepts_the_file():
    if not shutil.which("docker-compose"):
        peer_missing("docker-compose")
    result = subprocess.run(["docker-compose", "-f", str(COMPOSE), "config", "-q"],
                            env=ENV, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_it_refuses_to_render_without_the_secrets():
    if not shutil.which("docker-compose"):
        peer_missing("docker-compose")
    env = {k: v for k, v in ENV.items() if k != "SECRET_KEY"}
    result = subprocess.run(["docker-compose", "-f", str(COMPOSE), "config", "-q"],
                            env=env, capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_every_long_running_service_has_a_health_check():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert {"postgres", "redis", "web", "worker", "scheduler"} <= set(services)
    for name, service in services.items():
        if name != "migrate":
            assert "healthcheck" in service, name
