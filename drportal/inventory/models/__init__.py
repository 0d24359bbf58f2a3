from drportal.inventory.models.assets import Asset
from drportal.inventory.models.customers import Customer, CustomerContact
from drportal.inventory.models.locations import Provider, ProviderAccount, Region, Zone
from drportal.inventory.models.offices import ExternalContact, Office, Person
from drportal.inventory.models.ownership import Ownership
from drportal.inventory.models.servers import Server
from drportal.inventory.models.services import Service

__all__ = [
    "Asset",
    "Customer",
    "CustomerContact",
    "ExternalContact",
    "Office",
    "Ownership",
    "Person",
    "Provider",
    "ProviderAccount",
    "Region",
    "Server",
    "Service",
    "Zone",
]
