from __future__ import annotations

from django.db import models

from drportal.inventory.choices import ContactPurpose, CustomerStatus, CustomerTier


class Customer(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    tier = models.CharField(max_length=20, choices=CustomerTier.choices, default=CustomerTier.STANDARD)
    status = models.CharField(max_length=20, choices=CustomerStatus.choices, default=CustomerStatus.ACTIVE)
    terminated_at = models.DateTimeField(null=True, blank=True)
    services = models.ManyToManyField("inventory.Service", blank=True, related_name="customers")

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return self.name


class CustomerContact(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts")
    purpose = models.CharField(max_length=20, choices=ContactPurpose.choices, default=ContactPurpose.OUTAGE)
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["customer", "purpose", "id"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "purpose", "email"], name="contact_unique_email"),
        ]

    def __str__(self) -> str:
        return f"{self.customer}: {self.name or self.email} ({self.purpose})"
