"""The `simulated` recovery action: a stand-in cloud for drills, the demo, tests and benchmarks.

It follows the action contract of drportal/cloud/actions/base.py exactly, so the engine cannot tell it
from a real one. Its "provider" is a Redis hash per idempotency key (shared by every worker process), so
it behaves like a real cloud across a SIGKILLed worker: it checks what exists before creating anything,
and counts how many times it really created something (`creations(key)`), which is what the fault tests
assert on.

params:
  duration: seconds until the simulated resource is ready (polled with Outcome.poll_after)
  block: seconds to hold the worker inside execute after creating (to kill a worker mid-step in tests); a batch
         with a block is executed server by server, not pipelined
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
        # Provider state first: only create when nothing exists under this key, so a retry or a second
        # worker finds the node the first one made.
        made, created_at = _create_or_find(conn)(keys=self._keys(ctx), args=[repr(time.time())])
        return self._answer(ctx, made, created_at)

    def execute_many(self, ctxs: list[StepContext]) -> list[Outcome | AdapterError]:
        """execute for a batch in one round trip (a pipeline of the same script per node): one call per server
        cost ~160 us of a worker's CPU, most of the simulated cloud's share of a fan-out; pipelined ~30 us. A batch
        with a `block` (a slow provider, held server by server so the tests can kill a worker mid-batch) is done
        one server at a time, as execute does it."""
        if any(float(ctx.params.get("block", 0)) for ctx in ctxs):
            return [self._execute_or_error(ctx) for ctx in ctxs]
        conn = _redis()
        answers: list[Outcome | AdapterError | None] = [None] * len(ctxs)
        pipe = conn.pipeline(transaction=False)
        asked = []
        for i, ctx in enumerate(ctxs):
            try:
                self._maybe_fail(ctx, conn)
            except AdapterError as exc:
                answers[i] = exc
                continue
            _create_or_find(conn)(keys=self._keys(ctx), args=[repr(time.time())], client=pipe)
            asked.append(i)
        for i, (made, created_at) in zip(asked, pipe.execute() if asked else [], strict=True):
            answers[i] = self._answer(ctxs[i], made, created_at)
        return answers  # type: ignore[return-value] - every slot is filled above

    def _execute_or_error(self, ctx: StepContext) -> Outcome | AdapterError:
        try:
            return self.execute(ctx)
        except AdapterError as exc:
            return exc

    @staticmethod
    def _keys(ctx: StepContext) -> list[str]:
        return [f"{PREFIX}node:{ctx.idempotency_key}", f"{PREFIX}creations:{ctx.idempotency_key}"]

    def _answer(self, ctx: StepContext, made: int, created_at: bytes | str) -> Outcome:
        """The Outcome once the provider said whether it created the node (made) and when the node was created."""
        duration = float(ctx.params.get("duration", 0))
        if made:
            ctx.say(f"created simulated node sim-{ctx.idempotency_key[:12]}")
            block = float(ctx.params.get("block", 0))
            if block:
                time.sleep(block)
        else:
            ctx.say("simulated node already exists; following it")
        remaining = float(created_at) + duration - time.time()
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
