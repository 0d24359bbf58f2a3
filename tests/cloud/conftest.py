"""Real peers for the cloud tests: PowerDNS, a moto server, two redis-servers, and a tiny faulty provider."""

from __future__ import annotations

import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from drportal.cloud import devpeers
from drportal.inventory.models import Provider, ProviderAccount, Region, Server, Zone
from tests.conftest import peer_missing

_zone_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def powerdns():
    if not devpeers.pdns_available():
        peer_missing("pdns_server with pdns-backend-sqlite3")
    peer = devpeers.start_powerdns()
    yield peer
    peer.stop()


@pytest.fixture
def pdns_zone(powerdns):
    """A fresh zone with app/db A records (TTL 3600) on the session's PowerDNS; removed afterwards."""
    domain = f"z{next(_zone_numbers)}-{powerdns.api_port}.test."
    powerdns.create_zone(domain, [
        (f"app.{domain}", "A", "203.0.113.10", 3600),
        (f"db.{domain}", "A", "203.0.113.20", 3600),
    ])
    yield domain
    powerdns.delete_zone(domain)


@pytest.fixture(scope="session")
def moto_server():
    peer = devpeers.start_moto()
    yield peer
    peer.stop()


@pytest.fixture
def moto(moto_server):
    moto_server.reset()
    yield moto_server
    moto_server.reset()


@pytest.fixture(scope="session")
def redis_pair():
    if not devpeers.redis_binary():
        peer_missing("redis-server")
    primary = devpeers.start_redis()
    replica = devpeers.start_redis(replica_of=primary.port)
    yield primary, replica
    replica.stop()
    primary.stop()


class FaultyProvider:
    """A local HTTP server that answers every request with a chosen status and body, like a provider
    having a bad day (500, 503, 429 throttling, 401/403 bad credentials). It counts the requests."""

    def __init__(self):
        self.status = 500
        self.body = b""
        self.content_type = "text/xml"
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                outer.requests += 1
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                self.send_response(outer.status)
                self.send_header("Content-Type", outer.content_type)
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answer(self, status: int, body: str | dict = "", content_type: str = "text/xml") -> None:
        self.status = status
        self.body = (json.dumps(body) if isinstance(body, dict) else body).encode()
        self.content_type = "application/json" if isinstance(body, dict) else content_type
        self.requests = 0

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def faulty():
    peer = FaultyProvider()
    yield peer
    peer.stop()


@pytest.fixture
def fast_retries(settings):
    settings.CLOUD_RETRY_ATTEMPTS = 3
    settings.CLOUD_RETRY_BASE_DELAY = 0.01


def ec2_error(code: str, message: str) -> str:
    return (f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
            "<RequestID>r-1</RequestID></Response>")


@pytest.fixture
def aws_location(db):
    provider = Provider.objects.create(slug="aws", name="AWS", kind="aws")
    region = Region.objects.create(provider=provider, slug="us-east-1", name="US East (N. Virginia)")
    return Zone.objects.create(region=region, slug="us-east-1a", name="us-east-1a")


@pytest.fixture
def moto_account(moto, aws_location):
    account = ProviderAccount.objects.create(
        provider=aws_location.region.provider, name="aws-test", driver="ec2",
        options={"region": "us-east-1", "endpoint_url": moto.endpoint},
    )
    account.set_credentials({"key": "AKIDTEST", "secret": "moto-secret"})
    account.save()
    return account


@pytest.fixture
def sim_location(db):
    provider = Provider.objects.create(slug="sim", name="Simulated", kind="simulated")
    region = Region.objects.create(provider=provider, slug="dallas", name="Dallas")
    return Zone.objects.create(region=region, slug="dfw", name="DFW")


@pytest.fixture
def sim_account(sim_location):
    return ProviderAccount.objects.create(provider=sim_location.region.provider, name="sim", driver="simulated",
                                          options={"latency_s": 0, "locations": ["dfw", "mci"]})


@pytest.fixture
def pdns_account(powerdns, db):
    provider, _ = Provider.objects.get_or_create(slug="pdns", defaults={"name": "PowerDNS", "kind": "other"})
    account = ProviderAccount.objects.create(
        provider=provider, name="pdns", driver="powerdns",
        options={"host": "127.0.0.1", "port": powerdns.api_port, "dns_port": powerdns.dns_port},
    )
    account.set_credentials({"key": powerdns.api_key})
    account.save()
    return account


def make_server(zone, account, **fields) -> Server:
    defaults = {"name": "web1", "role": "application", "size": "t2.micro"}
    return Server.objects.create(zone=zone, account=account, **{**defaults, **fields})


class CachingResolver:
    """A real caching resolver in miniature (dnslib server + dnspython upstream queries): answers from its
    cache until the TTL runs out, with the remaining TTL, like the ISP resolvers a cutover waits for."""

    def __init__(self, upstream_port: int):
        import time

        import dns.message
        import dns.query
        from dnslib import RR, DNSRecord
        from dnslib.server import BaseResolver, DNSLogger, DNSServer

        cache: dict[tuple[str, str], tuple[float, list[str], int]] = {}
        self.cache = cache

        class Resolver(BaseResolver):
            def resolve(self, request: DNSRecord, handler):
                from dnslib import QTYPE

                name, rdtype = str(request.q.qname), QTYPE[request.q.qtype]
                reply = request.reply()
                hit = cache.get((name, rdtype))
                now = time.time()
                if hit is None or now >= hit[0] + hit[2]:
                    answer = dns.query.udp(dns.message.make_query(name, rdtype), "127.0.0.1", port=upstream_port,
                                           timeout=2)
                    values, ttl = [], 0
                    for rrset in answer.answer:
                        values += [r.to_text() for r in rrset]
                        ttl = rrset.ttl
                    hit = (now, values, ttl)
                    cache[(name, rdtype)] = hit
                remaining = max(0, int(hit[0] + hit[2] - now))
                for value in hit[1]:
                    reply.add_answer(*RR.fromZone(f"{name} {remaining} IN {rdtype} {value}"))
                return reply

        self.server = DNSServer(Resolver(), address="127.0.0.1", port=0, logger=DNSLogger("-request,-reply"))
        self.server.start_thread()
        self.port = self.server.server.server_address[1]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.stop()
        self.server.server.server_close()


@pytest.fixture
def caching_resolver(powerdns):
    resolver = CachingResolver(powerdns.dns_port)
    yield resolver
    resolver.stop()
