"""Deployment commands run detached from the worker: the worker starts them and returns; later polls read
the exit code the runner wrote. A worker restart does not kill the deployment (new session), and the
exit code is written atomically (rename) so a poll never reads half of it.

    python -m drportal.cloud.adapters.deploy LOG RC -- command args...
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings


def workdir() -> Path:
    path = Path(getattr(settings, "CLOUD_DEPLOY_DIR", settings.VAR_DIR / "deployments"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def paths(deployment_id: int) -> tuple[Path, Path]:
    base = workdir()
    return base / f"{deployment_id}.log", base / f"{deployment_id}.rc"


def start(deployment_id: int, argv: list[str], cwd: str | None = None, env: dict[str, str] | None = None) -> int:
    """env: extra variables (a database password travels here, never on the command line or in the row)."""
    log, rc = paths(deployment_id)
    # Only the row's claimer starts it, once: files under this id are an earlier database's (recreated with the
    # same ids, or a directory shared with another checkout), and their exit code is not this deployment's.
    log.unlink(missing_ok=True)
    rc.unlink(missing_ok=True)
    process = subprocess.Popen(  # noqa: S603 - argv comes from the scenario, not from a request
        [sys.executable, "-m", "drportal.cloud.adapters.deploy", str(log), str(rc), "--", *argv],
        cwd=cwd or None, start_new_session=True, stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    return process.pid


def result(deployment_id: int) -> tuple[int | None, str]:
    """(exit code or None while running, the last 4000 characters of output)."""
    log, rc = paths(deployment_id)
    output = log.read_text(errors="replace")[-4000:] if log.exists() else ""
    code = int(rc.read_text()) if rc.exists() else None
    return code, output


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A finished child we did not reap is a zombie: not running any more.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        return state != "Z"
    except OSError:
        return True


def _main(args: list[str]) -> int:
    log, rc = Path(args[0]), Path(args[1])
    argv = args[3:]
    with log.open("wb") as out:
        try:
            code = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False).returncode  # noqa: S603
        except OSError as exc:
            out.write(f"could not start {argv[0]!r}: {exc}\n".encode())
            code = 127
    tmp = rc.with_suffix(".tmp")
    tmp.write_text(str(code))
    tmp.rename(rc)
    return code


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
