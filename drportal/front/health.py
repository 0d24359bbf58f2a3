from __future__ import annotations

import time

from django.conf import settings
from django.db import connection


def check_database() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True, "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "down" to a load balancer
        connection.close_if_unusable_or_obsolete()
        return False, type(exc).__name__


def check_queue() -> tuple[bool, str]:
    import redis

    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
        return True, "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "down" to a load balancer
        return False, type(exc).__name__


def report() -> tuple[bool, dict]:
    started = time.monotonic()
    db_ok, db_detail = check_database()
    q_ok, q_detail = check_queue()
    body = {
        "status": "ok" if db_ok and q_ok else "down",
        "database": db_detail,
        "queue": q_detail,
        "ms": round((time.monotonic() - started) * 1000, 1),
    }
    return db_ok and q_ok, body
