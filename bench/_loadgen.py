"""A small HTTP/1.1 load generator for the ingestion benchmark, run in its own process:

    python -m bench._loadgen < config.json  ->  one JSON line of results on stdout

Why not a threaded urllib loop: it spends more CPU per request than the server under test, on the same two
cores. Why not wrk: at the end of its fixed duration it drops the requests in flight, so the rows written
can exceed the answers counted and "no write lost" cannot be checked exactly. This client keeps `concurrency`
keep-alive connections (reconnecting when the server closes one, as gunicorn's sync workers do), stops
*sending* at the deadline, waits for the answers in flight, and counts each answer by status. The rate is
events accepted divided by the time until the last answer.

Config: {"host", "port", "path", "headers": {...}, "template": one report with {id} and {asset} (or a list of
ready bodies in "bodies", each used once), "assets": [...], "prefix": id prefix, "batch": reports per request
(a JSON list; 0 sends single objects), "concurrency", "seconds",
"count_field": name of a JSON field counting events in a 2xx body (batches), else each 2xx counts one}.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time


async def _read(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, close = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
        elif name == b"transfer-encoding":
            raise ValueError("chunked answers are not supported: the server should send Content-Length")
    body = await reader.readexactly(length) if length else b""
    return status, body, close


async def _main(cfg: dict) -> dict:
    host, port = cfg["host"], cfg["port"]
    extra = "".join(f"{k}: {v}\r\n" for k, v in cfg.get("headers", {}).items())
    head = f"POST {cfg['path']} HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}Content-Length: %d\r\n\r\n".encode()
    template, assets, prefix = cfg.get("template", ""), cfg.get("assets", []), cfg.get("prefix", "")
    bodies = [b.encode() for b in cfg.get("bodies", [])]
    count_field, batch = cfg.get("count_field"), cfg.get("batch", 0)
    deadline = time.monotonic() + cfg["seconds"]
    counts: dict[int, int] = {}
    state = {"events": 0, "sent": 0, "connects": 0, "errors": 0}

    def next_body() -> bytes | None:
        n = state["sent"]
        state["sent"] += 1
        if bodies:
            return bodies[n] if n < len(bodies) else None
        if not batch:
            return template.replace("{id}", f"{prefix}{n}").replace("{asset}", assets[n % len(assets)]).encode()
        first = n * batch
        return ("[" + ",".join(template.replace("{id}", f"{prefix}{i}").replace("{asset}", assets[i % len(assets)])
                               for i in range(first, first + batch)) + "]").encode()

    async def worker() -> None:
        reader = writer = None
        while time.monotonic() < deadline:
            body = next_body()
            if body is None:
                break
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
                state["connects"] += 1
            writer.write(head % len(body) + body)
            try:
                status, answer, close = await _read(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                # The request may or may not have been handled: it is not counted, and the row check says so.
                state["errors"] += 1
                writer.close()
                reader = writer = None
                continue
            counts[status] = counts.get(status, 0) + 1
            if 200 <= status < 300:
                state["events"] += json.loads(answer)[count_field] if count_field else 1
            if close:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(cfg["concurrency"])))
    elapsed = time.monotonic() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"elapsed": elapsed, "events": state["events"], "statuses": {str(k): v for k, v in counts.items()},
            "sent": state["sent"], "connects": state["connects"], "errors": state["errors"],
            "eps": state["events"] / elapsed, "client_cpu_s": usage.ru_utime + usage.ru_stime}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(_main(json.load(sys.stdin)))))
