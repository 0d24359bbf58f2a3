"""State of the simulated cloud (demo and drills) and of deployments started by run_deployment.

The simulated cloud keeps its nodes, images, addresses, volumes and DNS zones here, in PostgreSQL, so
it survives worker restarts and a unique (account, idempotency key) makes a second create_node return
the first node instead of making another.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class SimNode(models.Model):
    account = models.ForeignKey("inventory.ProviderAccount", on_delete=models.CASCADE, related_name="sim_nodes")
    node_id = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    image_id = models.CharField(max_length=40)
    size_id = models.CharField(max_length=40)
    location = models.CharField(max_length=60)
    metadata = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(max_length=200, blank=True)
    public_ip = models.GenericIPAddressField(null=True, blank=True)
    private_ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField()
    # Provisioning latency: the node reports "pending" until then, "running" after (derived, not stored).
    ready_at = models.DateTimeField()
    terminated_at = models.DateTimeField(null=True, blank=True)
    # Failure injection: a node that never becomes healthy ("error").
    broken = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "idempotency_key"], condition=~Q(idempotency_key=""), name="simnode_unique_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.node_id})"


class SimImage(models.Model):
    account = models.ForeignKey("inventory.ProviderAccount", on_delete=models.CASCADE, related_name="sim_images")
    image_id = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    server_name = models.CharField(max_length=200, blank=True)
    location = models.CharField(max_length=60, blank=True)
    # "available", or "failed" for an image that did not complete (not viable).
    state = models.CharField(max_length=20, default="available")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class SimAddress(models.Model):
    """A floating IP of the simulated cloud, attachable to one node at a time."""

    account = models.ForeignKey("inventory.ProviderAccount", on_delete=models.CASCADE, related_name="sim_addresses")
    ip = models.GenericIPAddressField(unique=True)
    node = models.ForeignKey(SimNode, null=True, blank=True, on_delete=models.SET_NULL, related_name="addresses")

    def __str__(self) -> str:
        return self.ip


class SimVolume(models.Model):
    account = models.ForeignKey("inventory.ProviderAccount", on_delete=models.CASCADE, related_name="sim_volumes")
    volume_id = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    size_gb = models.PositiveIntegerField(default=10)
    location = models.CharField(max_length=60, blank=True)
    node = models.ForeignKey(SimNode, null=True, blank=True, on_delete=models.SET_NULL, related_name="volumes")
    device = models.CharField(max_length=40, blank=True)

    def __str__(self) -> str:
        return self.name


class SimZone(models.Model):
    """A DNS zone of the simulated cloud, served by drportal.cloud.adapters.dnsserver (dnslib)."""

    domain = models.CharField(max_length=253, unique=True)  # with the trailing dot: "jivosoft.test."
    serial = models.PositiveIntegerField(default=1)

    def __str__(self) -> str:
        return self.domain


class SimRecord(models.Model):
    zone = models.ForeignKey(SimZone, on_delete=models.CASCADE, related_name="records")
    name = models.CharField(max_length=253)  # full name with the trailing dot
    type = models.CharField(max_length=10)
    content = models.CharField(max_length=500)
    ttl = models.PositiveIntegerField(default=300)

    class Meta:
        ordering = ["name", "type", "content"]
        indexes = [models.Index(fields=["name", "type"])]

    def __str__(self) -> str:
        return f"{self.name} {self.ttl} {self.type} {self.content}"


class Deployment(models.Model):
    """A deployment started by run_deployment: the durable row written before the command or webhook runs,
    claimed by a conditional update so a retried step never starts it twice."""

    class State(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    idempotency_key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20)  # "command" or "webhook"
    target = models.TextField()  # the command line (no secrets) or the webhook URL
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    pid = models.IntegerField(null=True, blank=True)
    status_url = models.URLField(blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    output = models.TextField(blank=True)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"deployment {self.idempotency_key} ({self.state})"
