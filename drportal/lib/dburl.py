"""The URL of the database this process is connected to, for a child process (an RQ worker started by a
test or a benchmark) that must see the same database — the test database included."""

from __future__ import annotations

from urllib.parse import quote


def current_database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    options = db.get("OPTIONS") or {}
    host = db.get("HOST") or options.get("host") or ""
    port = db.get("PORT") or options.get("port") or 5432
    user = quote(db.get("USER") or "postgres")
    password = db.get("PASSWORD") or ""
    auth = f"{user}:{quote(password)}" if password else user
    if host.startswith("/"):
        # The embedded server listens on a unix socket only (drportal/lib/embedded.py).
        return f"postgresql://{auth}@/{db['NAME']}?host={host}&port={port}"
    return f"postgresql://{auth}@{host or '127.0.0.1'}:{port}/{db['NAME']}"
