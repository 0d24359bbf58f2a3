"""transfer_ip: move the failed server's floating / elastic IP to its replacement, else hand over to DNS."""

from __future__ import annotations

from libcloud.compute.drivers.ec2 import EC2NodeDriver
from libcloud.compute.drivers.openstack import OpenStack_1_1_NodeDriver
from libcloud.compute.drivers.rackspace import RackspaceNodeDriver

from drportal.audit import log as audit
from drportal.cloud.actions.base import Outcome, StepContext, register
from drportal.cloud.actions.common import account_named, actor, bad_input, param, server_from
from drportal.cloud.adapters import compute, retry
from drportal.cloud.adapters.errors import AdapterError
from drportal.cloud.adapters.simulated import SimulatedNodeDriver

NAME = "transfer_ip"


class Addresses:
    """The address models we can move: EC2 elastic IPs, OpenStack floating IPs and the simulated cloud's.
    (The OpenStack path follows libcloud's API but has not been run against an OpenStack cloud here.)"""

    def __init__(self, driver, provider: str):
        self.driver = driver
        self.provider = provider

    @staticmethod
    def supported(driver) -> bool:
        if isinstance(driver, SimulatedNodeDriver):
            return driver.supports_floating_ips
        if isinstance(driver, RackspaceNodeDriver):
            # Rackspace Cloud Servers have no floating IPs: moving an address is a support request, which the
            # Jivosoft plan expects to fail ("it is unlikely that Rackspace would be able to transfer IP
            # addresses"), so the step hands over to the DNS cutover at once.
            return False
        return isinstance(driver, EC2NodeDriver | OpenStack_1_1_NodeDriver)

    def holder(self, ip: str) -> tuple[bool, str | None]:
        """(exists in the account, node id it is attached to)."""
        if isinstance(self.driver, SimulatedNodeDriver):
            for a in retry.call(self.driver.ex_list_addresses, provider=self.provider):
                if a["ip"] == ip:
                    return True, a["node_id"]
            return False, None
        if isinstance(self.driver, OpenStack_1_1_NodeDriver):
            for a in retry.call(self.driver.ex_list_floating_ips, provider=self.provider):
                if a.ip_address == ip:
                    return True, a.node_id
            return False, None
        for a in retry.call(self.driver.ex_describe_all_addresses, provider=self.provider):
            if a.ip == ip:
                return True, a.instance_id
        return False, None

    def move(self, ip: str, node) -> None:
        if isinstance(self.driver, SimulatedNodeDriver):
            retry.call(self.driver.ex_disassociate_address, ip, provider=self.provider)
            retry.call(self.driver.ex_associate_address, node, ip, provider=self.provider)
            return
        if isinstance(self.driver, OpenStack_1_1_NodeDriver):
            floating = next(a for a in retry.call(self.driver.ex_list_floating_ips, provider=self.provider)
                            if a.ip_address == ip)
            if floating.node_id:
                old = compute.get_node(self.driver, floating.node_id, self.provider)
                if old is not None:
                    retry.call(self.driver.ex_detach_floating_ip_from_node, old, ip, provider=self.provider)
            retry.call(self.driver.ex_attach_floating_ip_to_node, node, ip, provider=self.provider)
            return
        elastic = next(a for a in retry.call(self.driver.ex_describe_all_addresses, provider=self.provider)
                       if a.ip == ip)
        if elastic.instance_id:
            # libcloud has no AllowReassociation: disassociate, then associate.
            retry.call(self.driver.ex_disassociate_address, elastic, domain=elastic.domain, provider=self.provider)
        retry.call(self.driver.ex_associate_address_with_node, node, elastic, domain=elastic.domain,
                   provider=self.provider)


class TransferIP:
    name = NAME
    title = "Move the failed server's IP address to its replacement"

    def _setup(self, ctx: StepContext):
        server = server_from(ctx)
        account = account_named(ctx, "params.account", param(ctx, "account"), server.account)
        driver = compute.driver_for(account, region=param(ctx, "region"))
        previous = (server.metadata or {}).get("previous_node") or {}
        # The failed server's address: kept as previous_node by provision_from_image, or (in a drill, where the
        # inventory is never changed) still the server's own.
        fallback = server.public_ips if ctx.drill else previous.get("public_ips")
        address = param(ctx, "address") or (fallback or [None])[0]
        if not address:
            raise bad_input("params.address", "no address given and the server has no previous public IP")
        return server, driver, compute.provider_name(account), address, previous

    def plan(self, ctx: StepContext) -> list[str]:
        server, driver, provider, address, _ = self._setup(ctx)
        if not Addresses.supported(driver):
            return [f"{provider} cannot move {address} between servers: hand over to the DNS cutover."]
        return [f"Detach {address} from the failed node and attach it to {server.name} ({server.provider_node_id})."]

    def handover(self, ctx: StepContext) -> str:
        """What the step would hand over to without acting (a drill follows the same branch)."""
        _, driver, _, _, _ = self._setup(ctx)
        return "" if Addresses.supported(driver) else "dns_cutover"

    def execute(self, ctx: StepContext) -> Outcome:
        server, driver, provider, address, previous = self._setup(ctx)
        if not Addresses.supported(driver):
            ctx.say(f"{provider} cannot move addresses between servers; the DNS cutover takes over")
            return Outcome(done=True, handover="dns_cutover",
                           output={"address": address, "reason": f"{provider} cannot move IP addresses"})
        # A drill passes the replacement's node id from the provision step: it never touches the inventory.
        target = param(ctx, "node_id") or server.provider_node_id
        if not target:
            raise bad_input("params.server", f"{server.name} has no replacement node yet (run provision first)")
        addresses = Addresses(driver, provider)
        exists, holder = addresses.holder(address)
        if not exists:
            raise AdapterError(f"{address} is not a floating/elastic IP of this account", permanent=True,
                               provider=provider, code="AddressNotFound")
        if holder == target:
            ctx.say(f"{address} is already on {target}")
            return Outcome(done=True, output={"address": address, "node_id": holder, "moved": False})
        allowed = {None, previous.get("node_id"), *param(ctx, "allow_from", [])}
        if holder not in allowed:
            raise AdapterError(f"{address} is in use by node {holder}, which is not the failed server's node",
                               permanent=True, provider=provider, code="AddressInUse")
        node = compute.get_node(driver, target, provider)
        if node is None:
            raise AdapterError(f"replacement node {target} does not exist", permanent=True,
                               provider=provider, code="NodeNotFound")
        addresses.move(address, node)
        if ctx.drill:
            audit.record(actor(NAME, ctx), "cloud.ip_transferred", None, {"node": holder}, {"node": node.id},
                         note=f"drill for {server.name}: {address}")
            return Outcome(done=True, output={"address": address, "node_id": node.id, "moved": True, "from": holder})
        before = audit.snapshot(server, ["public_ips"])
        server.public_ips = [address, *[ip for ip in server.public_ips if ip != address]]
        server.save(update_fields=["public_ips"])
        audit.record(actor(NAME, ctx), "server.ip_transferred", server, before,
                     {"public_ips": server.public_ips, "from_node": holder, "to_node": node.id})
        ctx.say(f"moved {address} from {holder or 'nowhere'} to {node.id}")
        return Outcome(done=True, output={"address": address, "node_id": node.id, "moved": True, "from": holder})


action = register(TransferIP())
