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


def _git(*args: str, timeout: float = TIMEOUT_SECONDS) -> str:
    try:
        done = subprocess.run(  # noqa: S603 (fixed argv, no shell)
            ["git", *args], capture_output=True, text=True, timeout=timeout, check=False,  # noqa: S607
            env={"GIT_TERMINAL_PROMPT": "0", "PATH": "/usr/local/bin:/usr/bin:/bin"},
        )
    except subprocess.TimeoutExpired as exc:
        raise AdapterError(f"git {args[0]} timed out after {timeout} s", permanent=False, provider="git") from exc
    except FileNotFoundError as exc:
        raise AdapterError("git is not installed", permanent=True, provider="git") from exc
    if done.returncode != 0:
        message = (done.stderr or "").strip().splitlines()[-1:] or [f"git {args[0]} failed"]
        raise AdapterError(message[0], permanent=False, provider="git", code=str(done.returncode))
    return done.stdout


def copy_mirror(source: str, target: str, workdir: str) -> None:
    """Every branch and tag of `source` pushed to `target` (a new origin). A file:// target that does not exist
    yet is created bare first; pushing the same refs again changes nothing, so a retry is harmless."""
    from pathlib import Path

    if target.startswith("file://"):
        path = Path(target.removeprefix("file://"))
        if not (path / "HEAD").exists():
            path.mkdir(parents=True, exist_ok=True)
            _git("init", "--bare", "--quiet", str(path))
    clone = Path(workdir)
    if not (clone / "HEAD").exists():
        _git("clone", "--mirror", "--quiet", source, str(clone), timeout=TIMEOUT_SECONDS * 10)
    else:
        _git("-C", str(clone), "remote", "update", "--prune", timeout=TIMEOUT_SECONDS * 10)
    _git("-C", str(clone), "push", "--mirror", "--quiet", target, timeout=TIMEOUT_SECONDS * 10)
