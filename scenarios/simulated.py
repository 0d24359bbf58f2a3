"""The `simulated` recovery action: a stand-in cloud for drills, the demo, tests and benchmarks.

It follows the action contract of drportal/cloud/actions/base.py exactly, so the engine cannot tell it
from a real one. Its "provider" is a Redis hash per idempotency key (shared by every worker process), so
it behaves like a real cloud across a SIGKILLed worker: it checks what exists before creating anything,
and counts how many times it really created something (`creations(key)`), which is what the fault tests
assert on.

params:
  duration: seconds until the simulated resource is ready (polled with Outcome.poll_after)
  block: seconds to hold the worker inside execute after creating (to kill a worker mid-step in tests)
  fail: "transient:N" fails transiently on the first N calls; "permanent" always fails permanently
  handover: when ready, hand the rest over to the named action (as restore_database does when a volume is gone)
"""

from __future__ import annotations

import os
import time

import django_rq

from drportal.cloud.actions.base import Outcome, StepContext, register
from drportal.cloud.adapters.errors import AdapterError

PREFIX = "drportal:simcloud:"


_conn: dict[int, object] = {}


def _redis():
    # django_rq builds a new client (and pool) per call: keep one per process, or every call reconnects.
    pid = os.getpid()
    if pid not in _conn:
        _conn.clear()
        _conn[pid] = django_rq.get_connection("default")
    return _conn[pid]


# Create the node unless one exists under the key, count a creation, and answer (created?, created_at): one round
# trip instead of three (a fan-out of 1,000 spent most of its simulated-cloud time waiting on Redis), and atomic, so
# a worker killed in between can no longer leave a node without its count.
CREATE_OR_FIND = """
local made = redis.call('HSETNX', KEYS[1], 'created_at', ARGV[1])
if made == 1 then redis.call('INCR', KEYS[2]) end
return {made, redis.call('HGET', KEYS[1], 'created_at')}
"""
_scripts: dict[int, object] = {}


def _create_or_find(conn):
    if id(conn) not in _scripts:
        _scripts.clear()
        _scripts[id(conn)] = conn.register_script(CREATE_OR_FIND)
    return _scripts[id(conn)]


def creations(key: str) -> int:
    return int(_redis().get(f"{PREFIX}creations:{key}") or 0)


def reset(keys: list[str] | None = None) -> None:
    conn = _redis()
    names = list(conn.scan_iter(f"{PREFIX}*")) if keys is None else keys
    if names:
        conn.delete(*names)


class SimulatedAction:
    name = "simulated"
    title = "Simulated cloud action (drills, demo, tests)"

    def plan(self, ctx: StepContext) -> list[str]:
        what = ctx.params.get("as_action", "a resource")
        return [f"Simulate {what} for {ctx.params.get('server') or 'the incident'}, "
                f"ready after {float(ctx.params.get('duration', 0)):g} s."]

    def execute(self, ctx: StepContext) -> Outcome:
        conn = _redis()
        self._maybe_fail(ctx, conn)
        node_key = f"{PREFIX}node:{ctx.idempotency_key}"
        duration = float(ctx.params.get("duration", 0))
        # Provider state first: only create when nothing exists under this key, so a retry or a second
        # worker finds the node the first one made.
        made, created_at = _create_or_find(conn)(keys=[node_key, f"{PREFIX}creations:{ctx.idempotency_key}"],
                                                 args=[repr(time.time())])
        if made:
            ctx.say(f"created simulated node sim-{ctx.idempotency_key[:12]}")
            block = float(ctx.params.get("block", 0))
            if block:
                time.sleep(block)
        else:
            ctx.say("simulated node already exists; following it")
        created_at = float(created_at)
        remaining = created_at + duration - time.time()
        ctx.state["node"] = f"sim-{ctx.idempotency_key[:12]}"
        if remaining > 0:
            return Outcome(done=False, poll_after=remaining)
        ctx.say("simulated node is ready")
        return Outcome(done=True, output={"node_id": ctx.state["node"], "as_action": ctx.params.get("as_action", "")},
                       handover=str(ctx.params.get("handover", "")))

    def _maybe_fail(self, ctx: StepContext, conn) -> None:
        fail = str(ctx.params.get("fail", ""))
        if fail == "permanent":
            raise AdapterError("simulated permanent failure", permanent=True, provider="simulated")
        if fail.startswith("transient:"):
            calls = conn.incr(f"{PREFIX}calls:{ctx.idempotency_key}")
            if calls <= int(fail.split(":", 1)[1]):
                raise AdapterError("simulated throttling", permanent=False, provider="simulated", code="429")


SIMULATED = register(SimulatedAction())
