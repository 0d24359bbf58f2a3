from __future__ import annotations

from django.db import models


class Ownership(models.Model):
    """Which organisation's inventory document an object belongs to (its `organisation:`), so that another
    organisation's document cannot move or rewrite it by naming it (docs/inventory.md, "Organisations").
    One row per object; objects from documents without an organisation have none and may be claimed."""

    model = models.CharField(max_length=100)  # app_label.model_name
    object_id = models.BigIntegerField()
    organisation = models.CharField(max_length=200)
    claimed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "object_id"], name="ownership_unique")]

    def __str__(self) -> str:
        return f"{self.model} #{self.object_id} of {self.organisation}"
