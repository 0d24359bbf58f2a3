"""An in-process authoritative DNS server (dnslib) answering from the simulated cloud's zones in
PostgreSQL, so the demo and drills check propagation against a real DNS server over UDP.

    server = start("127.0.0.1", 5353); ...; server.stop()
"""

from __future__ import annotations

from django.db import connection
from dnslib import QTYPE, RCODE, RR, DNSRecord
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class DatabaseResolver(BaseResolver):
    def resolve(self, request: DNSRecord, handler) -> DNSRecord:
        # dnslib answers each query in a thread of its own: a connection left open there would never be
        # closed (and would keep test databases from being dropped), so each answer opens and closes one.
        try:
            return self._resolve(request)
        finally:
            connection.close()

    def _resolve(self, request: DNSRecord) -> DNSRecord:
        from drportal.cloud.models import SimRecord, SimZone

        reply = request.reply()
        qname = str(request.q.qname).lower()
        qtype = QTYPE[request.q.qtype]
        zones = [z for z in SimZone.objects.values_list("domain", flat=True) if qname.endswith(z.lower())]
        if not zones:
            reply.header.rcode = RCODE.REFUSED
            return reply
        reply.header.aa = 1
        records = list(SimRecord.objects.filter(name__iexact=qname))
        if not records:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for r in records:
            if r.type == qtype or (r.type == "CNAME" and qtype != "CNAME"):
                reply.add_answer(*RR.fromZone(f"{r.name} {r.ttl} IN {r.type} {r.content}"))
        return reply


class RunningServer:
    def __init__(self, server: DNSServer, host: str, port: int):
        self._server = server
        self.host = host
        self.port = port

    def stop(self) -> None:
        self._server.stop()
        self._server.server.server_close()


def start(host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Start serving in a daemon thread. port=0 picks a free port (see .port)."""
    server = DNSServer(DatabaseResolver(), address=host, port=port, logger=DNSLogger("-request,-reply,-truncated"))
    server.start_thread()
    return RunningServer(server, host, server.server.server_address[1])
