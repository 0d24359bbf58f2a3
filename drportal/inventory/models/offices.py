from __future__ import annotations

from django.db import models

from drportal.inventory.choices import ExternalContactKind


class Office(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    address = models.TextField(blank=True)
    city = models.CharField(max_length=100, blank=True)
    main_phone = models.CharField(max_length=32, blank=True)
    # The plan names who decides on site: "the top-ranking person on site".
    person_in_charge_role = models.CharField(max_length=200, blank=True)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Person(models.Model):
    office = models.ForeignKey(Office, null=True, blank=True, on_delete=models.SET_NULL, related_name="people")
    name = models.CharField(max_length=200)
    title = models.CharField(max_length=200, blank=True)
    email = models.EmailField(unique=True)
    phone = models.CharField(max_length=32, blank=True)
    is_key_personnel = models.BooleanField(default=False)
    # Order in which office calls forward to cell phones (1 first); null = not on the list.
    call_forwarding_order = models.PositiveSmallIntegerField(null=True, blank=True)
    # Lower ranks first when deciding who is "in charge on site".
    on_site_rank = models.PositiveSmallIntegerField(null=True, blank=True)
    has_laptop = models.BooleanField(default=False)
    has_home_internet = models.BooleanField(default=False)
    coworking_member = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["call_forwarding_order"])]

    def __str__(self) -> str:
        return self.name


class ExternalContact(models.Model):
    kind = models.CharField(max_length=30, choices=ExternalContactKind.choices)
    organisation = models.CharField(max_length=200)
    name = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    email = models.EmailField(blank=True)
    account_number = models.CharField(max_length=100, blank=True)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["kind", "organisation"]
        constraints = [models.UniqueConstraint(fields=["kind", "organisation"], name="external_unique")]

    def __str__(self) -> str:
        return f"{self.organisation} ({self.get_kind_display()})"
