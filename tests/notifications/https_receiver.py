"""A local HTTPS receiver that records what Slack, Microsoft Teams and PagerDuty would receive.

Apprise builds the real service URLs (hooks.slack.com, events.pagerduty.com, a Teams workflow host); the
test sets HTTPS_PROXY to this server, which answers the CONNECT, speaks TLS with a throw-away self-signed
certificate (the channel URLs carry Apprise's own `verify=no`), and records each request with the host the
client asked for. No Apprise code is patched: only the network between it and the services is ours.
"""

from __future__ import annotations

import datetime
import json
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Received:
    host: str
    method: str
    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class Recorder:
    requests: list[Received] = field(default_factory=list)
    # Status codes to answer next, per host, before the default 200 (e.g. [500] for one failure).
    failures: dict[str, list[int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def to(self, host: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.host == host]


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "drportal-test-receiver")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def handler_for(recorder: Recorder, tls: ssl.SSLContext):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        target = ""

        def log_message(self, *args) -> None:
            pass

        def do_CONNECT(self) -> None:
            self.target = self.path.rsplit(":", 1)[0]
            self.send_response(200, "Connection established")
            self.end_headers()
            self.wfile.flush()
            self.connection = tls.wrap_socket(self.connection, server_side=True)
            self.rfile = self.connection.makefile("rb")
            self.wfile = self.connection.makefile("wb")
            self.close_connection = False
            while not self.close_connection:
                self.handle_one_request()

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            host = self.target or self.headers.get("Host", "")
            with recorder.lock:
                recorder.requests.append(Received(host, "POST", self.path, dict(self.headers), body))
                pending = recorder.failures.get(host) or []
                status = pending.pop(0) if pending else 200
            answer = b'{"ok": false}' if status >= 400 else (
                b'{"status":"success","message":"Event processed","dedup_key":"k"}' if "pagerduty" in host else b"ok")
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if answer.startswith(b"{") else "text/plain")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
            self.wfile.flush()

    return Handler


def start(directory: Path) -> tuple[ThreadingHTTPServer, Recorder]:
    cert, key = self_signed(directory)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    recorder = Recorder()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(recorder, tls))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, recorder
