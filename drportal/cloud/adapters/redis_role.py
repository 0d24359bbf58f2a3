"""Redis replication role (INFO replication): did the cache fail over the way the plan relies on?"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from drportal.cloud.adapters import retry


@dataclass
class Replication:
    role: str  # "master" or "slave" (Redis 6 still says slave)
    master: str  # "host:port" of the master for a replica, "" for a master
    link_up: bool  # a replica's link to its master; True for a master
    connected_replicas: int


def replication(url: str, timeout: float = 3.0) -> Replication:
    """url: redis://host:port/0 (credentials, if any, in the URL; never logged)."""
    host = url.split("@")[-1].split("//")[-1]

    def read() -> dict:
        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        try:
            return client.info("replication")
        finally:
            client.close()

    info = retry.call(read, provider=f"redis:{host}")
    role = str(info.get("role", ""))
    master = f"{info.get('master_host')}:{info.get('master_port')}" if role == "slave" else ""
    return Replication(
        role=role, master=master,
        link_up=role != "slave" or info.get("master_link_status") == "up",
        connected_replicas=int(info.get("connected_slaves", 0)),
    )
