"""A token bucket per channel in Redis, shared by every worker: each message reserves a token and waits
until it is due. Redis's own clock (TIME) is used so workers on different machines agree.

In drportal.lib (it knows no app): notifications' senders and backups' compliance report mail share it."""

from __future__ import annotations

import os
import time

_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate) - want
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], 3600)
if tokens >= 0 then return '0' end
return tostring(-tokens / rate)
"""

# E-mail: what a relay of our own (Postfix next to the app) takes without strain; 10,000 notices leave in
# about 10 s. A hosted relay has a quota of its own (SES starts at 14/s): set NOTIFY_RATE_EMAIL to it.
# Apprise: chat and paging APIs throttle around one message a second per webhook (Slack documents 1/s).
DEFAULT_RATES = {"email": (1000.0, 1000.0), "webhook": (1.0, 5.0), "sms": (10.0, 20.0), "apprise": (1.0, 5.0)}


def rate_for(channel: str) -> tuple[float, float]:
    """(messages per second, burst) from NOTIFY_RATE_<CHANNEL>="per_second[,burst]"."""
    raw = os.environ.get(f"NOTIFY_RATE_{channel.upper()}", "")
    if not raw:
        return DEFAULT_RATES.get(channel, (10.0, 10.0))
    parts = [float(p) for p in raw.split(",")]
    return parts[0], parts[1] if len(parts) > 1 else parts[0]


class TokenBucket:
    def __init__(self, redis, channel: str, rate: float | None = None, burst: float | None = None):
        default_rate, default_burst = rate_for(channel)
        self.rate = rate or default_rate
        self.burst = burst or default_burst
        self.key = f"drportal:notify:bucket:{channel}"
        self._script = redis.register_script(_SCRIPT)

    def reserve(self, n: int = 1) -> float:
        """Take n tokens; returns how long to wait before using them (0 when there were enough)."""
        return float(self._script(keys=[self.key], args=[self.rate, self.burst, n]))

    def take(self, n: int = 1) -> float:
        wait = self.reserve(n)
        if wait > 0:
            time.sleep(wait)
        return wait
