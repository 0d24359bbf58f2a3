"""Asks real DNS servers what they answer for a record: the zone's authoritative servers and a list of
resolvers, each one's values and remaining TTL (dnspython, no cache, no system resolver)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype


@dataclass(frozen=True)
class Server:
    label: str  # "authoritative 127.0.0.1:1053" or "resolver 9.9.9.9:53"
    host: str
    port: int = 53
    authoritative: bool = False


@dataclass
class Answer:
    server: str
    name: str
    type: str
    values: list[str]
    ttl: int | None
    error: str = ""

    def agrees(self, expected: set[str]) -> bool:
        return not self.error and set(self.values) == expected


def parse_servers(items: list[str], *, authoritative: bool) -> list[Server]:
    """"host:port" or "host" strings → Server (bad entries raise ValueError naming the entry)."""
    kind = "authoritative" if authoritative else "resolver"
    servers = []
    for item in items:
        host, sep, port = str(item).rpartition(":")
        if not sep:
            host, port = str(item), "53"
        if not host or not port.isdigit():
            raise ValueError(f"resolvers: {item!r} is not host:port")
        servers.append(Server(f"{kind} {host}:{port}", host, int(port), authoritative))
    return servers


def ask(server: Server, name: str, rdtype: str, timeout: float = 2.0) -> Answer:
    query = dns.message.make_query(name, rdtype)
    if server.authoritative:
        query.flags &= ~dns.flags.RD  # ask the authoritative server only what it holds itself
    try:
        response = dns.query.udp(query, server.host, port=server.port, timeout=timeout)
        if response.flags & dns.flags.TC:
            response = dns.query.tcp(query, server.host, port=server.port, timeout=timeout)
    except (dns.exception.Timeout, OSError) as exc:
        return Answer(server.label, name, rdtype, [], None, error=f"no answer: {exc.__class__.__name__}")
    rcode = response.rcode()
    if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        return Answer(server.label, name, rdtype, [], None, error=dns.rcode.to_text(rcode))
    wanted = dns.rdatatype.from_text(rdtype)
    values: list[str] = []
    ttl: int | None = None
    for rrset in response.answer:
        if rrset.rdtype == wanted:
            values.extend(sorted(r.to_text() for r in rrset))
            ttl = rrset.ttl if ttl is None else min(ttl, rrset.ttl)
    return Answer(server.label, name, rdtype, values, ttl)


def ask_all(servers: list[Server], records: list[tuple[str, str]], timeout: float = 2.0) -> list[Answer]:
    """Every server for every (name, type), in parallel: 200 records on 3 servers is 600 small UDP queries."""
    jobs = [(s, name, rdtype) for name, rdtype in records for s in servers]
    with ThreadPoolExecutor(max_workers=min(16, max(1, len(jobs)))) as pool:
        return list(pool.map(lambda job: ask(job[0], job[1], job[2], timeout), jobs))


@dataclass
class Progress:
    total: int
    agreeing: int
    stragglers: list[dict]
    answers: list[dict]

    @property
    def complete(self) -> bool:
        return self.total > 0 and self.agreeing == self.total

    @property
    def percent(self) -> int:
        return int(100 * self.agreeing / self.total) if self.total else 0


def progress(answers: list[Answer], expected: dict[tuple[str, str], set[str]], now: datetime) -> Progress:
    """How far propagation is: which servers agree, and when each straggler's cached answer expires."""
    rows, stragglers, agreeing = [], [], 0
    for a in answers:
        want = expected[(a.name, a.type)]
        ok = a.agrees(want)
        agreeing += ok
        row = {"server": a.server, "name": a.name, "type": a.type, "values": a.values, "ttl": a.ttl,
               "agrees": ok, "error": a.error}
        rows.append(row)
        if not ok:
            expires = now + timedelta(seconds=a.ttl) if a.ttl is not None else None
            stragglers.append({**row, "expected": sorted(want),
                               "expires_at": expires.isoformat() if expires else None})
    return Progress(total=len(answers), agreeing=agreeing, stragglers=stragglers, answers=rows)
