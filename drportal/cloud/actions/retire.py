"""retire_node: the last step of a return home. After a server was provisioned again in its home region, the
temporary node that stood in for it during the failover (recorded by provision_from_image as the server's
`previous_node`) is destroyed, so nothing keeps running, billed and unwatched, in the recovery region.

params: server; region (where the temporary node runs, e.g. rackspace/mci); node (its id; default the server's
metadata.previous_node). Never destroys the node the server runs on now.
"""

from __future__ import annotations

from drportal.audit import log as audit
from drportal.cloud.actions.base import Outcome, StepContext, register
from drportal.cloud.actions.common import (
    account_named,
    actor,
    bad_input,
    param,
    region_name,
    server_from,
    split_region,
)
from drportal.cloud.adapters import compute, retry

NAME = "retire_node"


class RetireNode:
    name = NAME
    title = "Destroy the temporary node a server ran on while away from home"

    def _setup(self, ctx: StepContext):
        server = server_from(ctx)
        node_id = param(ctx, "node") or ctx.state.get("node") or (server.metadata.get("previous_node") or {}).get(
            "node_id")
        if not node_id:
            return server, None, None, ""
        if node_id == server.provider_node_id:
            raise bad_input("params.node", f"{node_id} is the node {server.name} runs on now: it is not temporary")
        account = account_named(ctx, "params.account", param(ctx, "account"), server.account)
        # The region the step names, else the one the node was recorded in when it replaced the server's.
        recorded = split_region((server.metadata.get("previous_node") or {}).get("region"))[1]
        driver = compute.driver_for(account, region=region_name(ctx) or recorded or None)
        return server, node_id, driver, compute.provider_name(account)

    def plan(self, ctx: StepContext) -> list[str]:
        server, node_id, _driver, provider = self._setup(ctx)
        if node_id is None:
            return [f"{server.name} records no temporary node: nothing to retire."]
        return [f"Destroy node {node_id} on {provider}, which stood in for {server.name} while it was away; "
                f"{server.name} now runs on {server.provider_node_id or 'its home node'}."]

    def execute(self, ctx: StepContext) -> Outcome:
        server, node_id, driver, provider = self._setup(ctx)
        if node_id is None:
            ctx.say(f"{server.name} records no temporary node: nothing to retire")
            return Outcome(done=True, output={"retired": False})
        ctx.state["node"] = node_id
        node = compute.get_node(driver, node_id, provider)
        if node is None or node.state == compute.NodeState.TERMINATED:
            ctx.say(f"node {node_id} is gone")
            return Outcome(done=True, output={"node_id": node_id, "retired": True})
        if not ctx.state.get("recorded"):
            # The durable note comes before the side effect: a crash after it still tells what was being done.
            audit.record(actor(NAME, ctx), "cloud.node_retiring", server, None, {"node_id": node_id},
                         note=f"incident {ctx.incident_id}" if ctx.incident_id else "")
            ctx.state["recorded"] = True
        retry.call(driver.destroy_node, node, provider=provider)
        ctx.say(f"destroyed node {node_id}")
        if not ctx.drill:
            before = audit.snapshot(server, ["metadata"])
            server.metadata = {**server.metadata, "retired_nodes": [
                *server.metadata.get("retired_nodes", []), node_id]}
            server.save(update_fields=["metadata"])
            audit.record(actor(NAME, ctx), "server.temporary_node_retired", server, before,
                         audit.snapshot(server, ["metadata"]))
        return Outcome(done=True, output={"node_id": node_id, "retired": True})


action = register(RetireNode())
