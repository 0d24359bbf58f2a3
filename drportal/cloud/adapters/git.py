"""Git repositories and their mirrors: `git ls-remote`, the one outbound call, with a time-out."""

from __future__ import annotations

import subprocess

from drportal.cloud.adapters.errors import AdapterError

TIMEOUT_SECONDS = 60


def ls_remote(url: str) -> dict[str, str]:
    """{ref: sha} of the branches and tags of `url`. A missing repository is permanent; a time-out is not."""
    try:
        done = subprocess.run(  # noqa: S603 (fixed argv, no shell)
            ["git", "ls-remote", "--heads", "--tags", url],  # noqa: S607 (git from PATH, as any git tool)
            capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False,
            env={"GIT_TERMINAL_PROMPT": "0", "PATH": "/usr/local/bin:/usr/bin:/bin"},
        )
    except subprocess.TimeoutExpired as exc:
        raise AdapterError(f"git ls-remote timed out after {TIMEOUT_SECONDS} s", permanent=False,
                           provider="git") from exc
    except FileNotFoundError as exc:
        raise AdapterError("git is not installed", permanent=True, provider="git") from exc
    if done.returncode != 0:
        message = (done.stderr or "").strip().splitlines()[-1:] or ["git ls-remote failed"]
        raise AdapterError(message[0], permanent="not found" in done.stderr or "does not appear" in done.stderr,
                           provider="git", code=str(done.returncode))
    refs = {}
    for line in done.stdout.splitlines():
        sha, _, ref = line.partition("\t")
        if ref and not ref.endswith("^{}"):
            refs[ref] = sha
    return refs
