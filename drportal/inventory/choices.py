from __future__ import annotations

from django.db import models


class ProviderKind(models.TextChoices):
    RACKSPACE = "rackspace", "Rackspace"
    AWS = "aws", "Amazon Web Services"
    SIMULATED = "simulated", "Simulated cloud (demo and drills)"
    OTHER = "other", "Other"


class ServerRole(models.TextChoices):
    DATABASE = "database", "Database"
    APPLICATION = "application", "Application"
    CACHE = "cache", "Cache"
    LOAD_BALANCER = "load_balancer", "Load balancer"
    OTHER = "other", "Other"


class ServerStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    DOWN = "down", "Down"
    PROVISIONING = "provisioning", "Provisioning"
    REPLACED = "replaced", "Replaced"
    VANISHED = "vanished", "Vanished from the provider"


class AssetKind(models.TextChoices):
    SERVER = "server", "Server (system image)"
    DATABASE = "database", "Customer database on a server"
    MANAGED_DATABASE = "managed_database", "Managed database (e.g. RDS)"
    CACHE = "cache", "Managed cache (e.g. ElastiCache Redis)"
    CODE_REPOSITORY = "code_repository", "Code repository"
    DOCUMENT_STORE = "document_store", "Document store (records)"


class CustomerTier(models.TextChoices):
    STANDARD = "standard", "Standard"
    PREMIUM = "premium", "Premium"
    ENTERPRISE = "enterprise", "Enterprise"


class CustomerStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    TERMINATED = "terminated", "Terminated"


class ContactPurpose(models.TextChoices):
    OUTAGE = "outage", "Outage notices"
    TECHNICAL = "technical", "Technical"
    BILLING = "billing", "Billing"
    EXECUTIVE = "executive", "Executive"


class ExternalContactKind(models.TextChoices):
    PROVIDER_SUPPORT = "provider_support", "Provider support"
    INSURER = "insurer", "Insurer"
    REALTOR = "realtor", "Commercial realtor"
    BANK = "bank", "Bank / credit line"
    COWORKING = "coworking", "Co-working space"
    PHONE = "phone", "Telephone (VOIP) provider"
    OTHER = "other", "Other"
