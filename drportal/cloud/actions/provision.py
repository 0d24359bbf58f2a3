"""provision_from_image: a replacement for a failed server from its most recent viable system image.

params: server; region or zone (where the node goes); size; name; image (a provider image id, for scenarios that
name one); image_record (the system-image backup record a person chose on the step page, scenarios.recovery_points:
its key is the provider's image id); suspect_approved_by (the manager who approved a suspect image).
Without a choice the newest viable image the provider lists is used, skipping any the catalogue marks suspect or
expired: a suspect image is never the default.
"""

from __future__ import annotations

from drportal.audit import log as audit
from drportal.cloud import copies
from drportal.cloud.actions.base import Outcome, StepContext, register
from drportal.cloud.actions.common import (
    account_named,
    actor,
    bad_input,
    check_timeout,
    param,
    region_name,
    server_from,
    split_region,
    started_at,
)
from drportal.cloud.adapters import compute
from drportal.cloud.adapters.errors import AdapterError
from drportal.inventory.choices import ServerStatus
from drportal.lib import clock

NAME = "provision_from_image"
SERVER_FIELDS = ["provider_node_id", "image", "public_ips", "private_ips", "status", "zone_id"]


def image_catalogue(server_name: str):
    """The backups app's records of the server's system images that name the provider's image (key): what a
    person chooses from before the step runs. Any record of another server's images is not in it."""
    return copies.catalogue().images(server_name)


def not_default(server_name: str, now) -> set[str]:
    """Provider image ids the catalogue says must never be taken by default: marked suspect, expired, not viable."""
    from django.db.models import Q

    barred = image_catalogue(server_name).filter(
        Q(suspect__isnull=False) | Q(viable=False) | Q(checksum_ok=False) | Q(expires_at__lte=now))
    return set(barred.values_list("key", flat=True))


def chosen_image(ctx: StepContext, server, driver, provider):
    """The image of the record a person chose, checked again now (it may have expired since, or the record may
    name an image the provider no longer has): a wrong choice fails the step before anything is created."""
    chosen = param(ctx, "image_record")
    record = (image_catalogue(server.name).select_related("suspect").filter(pk=chosen).first()
              if str(chosen).isdigit() else None)
    if record is None:
        raise bad_input("params.image_record", f"backup #{chosen} is not a catalogued image of {server.name}")
    if not record.is_viable_at(clock.now()):
        raise bad_input("params.image_record", f"image {record.key} of {server.name} is no longer viable "
                                               f"(expired {record.expires_at:%Y-%m-%d %H:%M} UTC)"
                        if record.expires_at else f"image {record.key} of {server.name} is not viable")
    suspect = getattr(record, "suspect", None)
    if suspect is not None and not param(ctx, "suspect_approved_by"):
        raise AdapterError(f"image {record.key} of {server.name} is marked suspect ({suspect.reason}); a manager "
                           "must approve provisioning from it", permanent=True, code="SuspectNeedsApproval")
    image = next((i for i in compute.images_of(driver, server.name, provider) if i.id == record.key), None)
    if image is None:
        raise bad_input("params.image_record", f"the provider lists no image {record.key} of {server.name}")
    return image


class ProvisionFromImage:
    name = NAME
    title = "Provision a replacement server from its most recent viable image"

    def _setup(self, ctx: StepContext):
        server = server_from(ctx)
        account = account_named(ctx, "params.account", param(ctx, "account"), server.account)
        driver = compute.driver_for(account, region=region_name(ctx) or None)
        return server, account, driver, compute.provider_name(account)

    def _location(self, ctx: StepContext, account, driver, provider):
        """params.zone, else a zone of params.region as the inventory knows it (the scenario names a region,
        the provider places nodes in zones / data centers), else the provider's default."""
        from drportal.inventory.models import Zone

        if param(ctx, "zone"):
            return compute.find_location(driver, param(ctx, "zone"), provider)
        region = str(param(ctx, "region") or "")
        if not region:
            return None
        provider_slug, slug = split_region(region)
        zones = Zone.objects.filter(region__slug=slug, region__provider=account.provider)
        if provider_slug:
            zones = zones.filter(region__provider__slug=provider_slug)
        locations = compute.retry.call(driver.list_locations, provider=provider)
        offered = {loc.id for loc in locations} | {loc.name for loc in locations}
        for zone in zones.order_by("slug"):
            if zone.slug in offered:
                return compute.find_location(driver, zone.slug, provider)
        return None  # the driver itself is already in that region (EC2, Rackspace): its default placement

    def _image(self, ctx: StepContext, server, driver, provider):
        if param(ctx, "image_record"):
            return chosen_image(ctx, server, driver, provider)
        if param(ctx, "image"):
            return compute.get_image(driver, param(ctx, "image"), provider)
        return compute.latest_viable_image(driver, server.name, provider, skip=not_default(server.name, clock.now()))

    def plan(self, ctx: StepContext) -> list[str]:
        server, account, driver, provider = self._setup(ctx)
        existing = compute.find_node_by_key(driver, ctx.idempotency_key, provider)
        if existing:
            return [f"Node {existing.name} ({existing.id}) already exists for this step; wait until it runs."]
        image = self._image(ctx, server, driver, provider)
        where = param(ctx, "zone") or param(ctx, "region") or "the provider's default location"
        return [f"Create node {param(ctx, 'name', server.name)} on {account} from image {image.name} ({image.id}), "
                f"size {param(ctx, 'size', server.size)}, in {where}.",
                "Poll until it is running, then record its node id and addresses on the server."]

    def execute(self, ctx: StepContext) -> Outcome:
        server, account, driver, provider = self._setup(ctx)
        started_at(ctx)
        node = None
        if ctx.state.get("node_id"):
            node = compute.get_node(driver, ctx.state["node_id"], provider)
        if node is None:
            # Look at the provider before creating: a previous attempt may have created the node and died
            # before the engine saved ctx.state.
            node = compute.find_node_by_key(driver, ctx.idempotency_key, provider)
        if node is None:
            node = self._create(ctx, server, account, driver, provider)
        ctx.state["node_id"] = node.id
        if node.state == compute.NodeState.ERROR:
            raise compute.AdapterError(f"node {node.id} failed to boot", permanent=True, provider=provider,
                                       code="NodeError")
        if not compute.is_running(node) or not node.public_ips:
            check_timeout(ctx, 3600, f"node {node.id} to run")
            ctx.say(f"node {node.id} is {node.state}; checking again shortly")
            return Outcome(done=False, poll_after=float(param(ctx, "poll_s", 5)),
                           output={"node_id": node.id, "state": str(node.state)})
        return Outcome(done=True, output=self._record(ctx, server, node))

    def _create(self, ctx: StepContext, server, account, driver, provider):
        image = self._image(ctx, server, driver, provider)
        size = compute.find_size(driver, param(ctx, "size", server.size) or "", provider)
        location = self._location(ctx, account, driver, provider)
        metadata = {str(k): str(v) for k, v in (server.metadata.get("node_metadata") or {}).items()}
        node = compute.create_node(driver, name=param(ctx, "name", server.name), size=size, image=image,
                                   location=location, key=ctx.idempotency_key, server_name=server.name,
                                   metadata=metadata, provider=provider)
        ctx.state["image"] = image.id
        ctx.say(f"created node {node.id} from image {image.name} ({image.id})")
        if ctx.drill:
            # A drill leaves the production inventory alone: the new node lives in the simulated cloud only.
            audit.record(actor(NAME, ctx), "cloud.node_created", None, None, {"node_id": node.id, "image": image.id},
                         note=f"drill for {server.name}")
            return node
        before = audit.snapshot(server, ["status"])
        server.status = ServerStatus.PROVISIONING
        server.save(update_fields=["status"])
        audit.record(actor(NAME, ctx), "cloud.node_created", server, before,
                     {"status": server.status, "node_id": node.id, "image": image.id},
                     note=f"incident {ctx.incident_id}" if ctx.incident_id else "")
        return node

    def _record(self, ctx: StepContext, server, node) -> dict:
        output = {"node_id": node.id, "public_ips": list(node.public_ips), "private_ips": list(node.private_ips),
                  "image": ctx.state.get("image", server.image)}
        if ctx.drill:
            ctx.say(f"drill: node {node.id} is running at {', '.join(node.public_ips)}")
            return {**output, "previous": {"node_id": server.provider_node_id, "public_ips": list(server.public_ips)}}
        if server.provider_node_id == node.id and server.status == ServerStatus.ACTIVE:
            return {**output, "previous": ctx.state.get("previous", {})}
        before = audit.snapshot(server, SERVER_FIELDS)
        previous = {"node_id": server.provider_node_id, "public_ips": list(server.public_ips),
                    "private_ips": list(server.private_ips), "image": server.image,
                    **({"region": server.metadata["node_region"]} if server.metadata.get("node_region") else {})}
        ctx.state.setdefault("previous", previous)
        # Where the node runs when the step named a region (a rebuild away from home): the step that later retires
        # it as a previous node must look for it there, not in the account's own region.
        kept = {k: v for k, v in server.metadata.items() if k != "node_region"}
        server.metadata = {**kept, "previous_node": ctx.state["previous"],
                           **({"node_region": region_name(ctx)} if region_name(ctx) else {})}
        server.provider_node_id = node.id
        server.public_ips = [ip for ip in node.public_ips if ip]
        server.private_ips = [ip for ip in node.private_ips if ip]
        server.image = output["image"] or server.image
        server.status = ServerStatus.ACTIVE
        server.save()
        audit.record(actor(NAME, ctx), "server.replaced", server, before, audit.snapshot(server, SERVER_FIELDS))
        ctx.say(f"node {node.id} is running at {', '.join(server.public_ips)}")
        return {**output, "previous": ctx.state["previous"]}


action = register(ProvisionFromImage())
