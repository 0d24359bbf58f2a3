"""What the development sinks received (`manage.py serve_sinks`, started by `make run`): the demo's mail, SMS and
webhook posts land here instead of reaching anybody, so support can see a notice arrive."""

from __future__ import annotations

from django.db import models


class Received(models.TextChoices):
    EMAIL = "email", "E-mail"
    SMS = "sms", "SMS"
    WEBHOOK = "webhook", "Webhook"


class OutboxMessage(models.Model):
    channel = models.CharField(max_length=10, choices=Received.choices)
    to = models.CharField(max_length=500)
    subject = models.CharField(max_length=500, blank=True)
    body = models.TextField(blank=True)
    received_at = models.DateTimeField(db_index=True)
    # The delivery the message carries (its X-Drportal-Delivery header or the gateway's "reference"); kept as
    # sent, and linked only when such a delivery exists, so a forged reference links nothing.
    reference = models.CharField(max_length=100, blank=True)
    delivery = models.ForeignKey("notifications.Delivery", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.channel} to {self.to} at {self.received_at:%Y-%m-%d %H:%M:%S}"
