"""rotate_load_balancer: detach failed members, attach their replacements (ELBv2 target groups)."""

from __future__ import annotations

from drportal.audit import log as audit
from drportal.cloud.actions.base import Outcome, StepContext, register
from drportal.cloud.actions.common import account_named, actor, bad_input, param, region_name
from drportal.cloud.adapters import loadbalancer
from drportal.cloud.adapters.errors import AdapterError


def _instance_ids(field: str, items: list, previous: bool) -> list[str]:
    """Instance ids, or server names: a server's current node, or (for removal) the node it replaced."""
    from drportal.inventory.models import Server

    ids = []
    for i, item in enumerate(items):
        if str(item).startswith("i-"):
            ids.append(str(item))
            continue
        server = Server.objects.filter(name=item).first()
        if server is None:
            raise bad_input(f"{field}[{i}]", f"no server {item!r}")
        node = (server.metadata.get("previous_node") or {}).get("node_id") if previous else server.provider_node_id
        if not node:
            raise bad_input(f"{field}[{i}]", f"server {item} has no {'previous' if previous else ''} node id")
        ids.append(node)
    return ids


class RotateLoadBalancer:
    name = "rotate_load_balancer"
    title = "Detach failed members from the load balancer and attach their replacements"

    def _setup(self, ctx: StepContext):
        servers = param(ctx, "servers") or ([param(ctx, "server")] if param(ctx, "server") else [])
        if isinstance(servers, str):
            servers = [s.strip() for s in servers.split(",") if s.strip()]
        account_name, group = param(ctx, "account"), param(ctx, "target_group_arn")
        remove, add = param(ctx, "remove", []), param(ctx, "add", [])
        if servers and not (remove or add):
            # A scenario that names the servers: swap each one's failed node for its replacement, in the target
            # group its inventory metadata names.
            from drportal.inventory.models import Server

            first = Server.objects.select_related("account").filter(name=servers[0]).first()
            if first is None:
                raise bad_input("params.servers[0]", f"no server {servers[0]!r}")
            account_name = account_name or (first.account.name if first.account else None)
            group = group or first.metadata.get("target_group_arn") or first.metadata.get("target_group")
            remove, add = servers, servers
            # The platform's public name (the servers' metadata.public_dns_name), passed on in the output so a DNS
            # step can point it at the load balancer (inputs: {cname: <this step>.public_name, ...}).
            ctx.state["public_name"] = first.metadata.get("public_dns_name", "")
        account = account_named(ctx, "params.account", account_name)
        if not group:
            raise bad_input("params.target_group_arn", "is required (or in the servers' metadata.target_group)")
        if not str(group).startswith("arn:"):
            # By name, in the step's region: a rebuild in another region rotates the group there.
            group = loadbalancer.target_group_arn(account, group, region_name(ctx) or None)
        remove = _instance_ids("params.remove", remove, previous=True)
        add = _instance_ids("params.add", add, previous=False)
        return account, group, remove, add

    def plan(self, ctx: StepContext) -> list[str]:
        _, group, remove, add = self._setup(ctx)
        return [f"Detach {', '.join(remove) or 'nothing'} and attach {', '.join(add) or 'nothing'} on {group}."]

    def execute(self, ctx: StepContext) -> Outcome:
        account, group, remove, add = self._setup(ctx)
        region = region_name(ctx) or None
        before = loadbalancer.members(account, group, region)
        # exact: the group is to hold the servers' nodes and nothing else. Coming home after a rebuild elsewhere,
        # the home group still lists the nodes lost with the region, which no server names any more.
        detach = [i for i in before if i not in add] if param(ctx, "exact") else [i for i in remove if i in before]
        attach = [i for i in add if i not in before]
        loadbalancer.detach(account, group, detach, region)
        loadbalancer.attach(account, group, attach, region)
        after = loadbalancer.members(account, group, region)
        missing, lingering = [i for i in add if i not in after], [i for i in detach if i in after]
        if missing or lingering:
            # Claim the rotation only when the target group says so (ELB may answer with the old members briefly).
            raise AdapterError(f"{group}: still missing {missing or 'none'}, still attached {lingering or 'none'}",
                               permanent=False, provider=f"elbv2:{account.name}", code="NotRotatedYet")
        if detach or attach:
            audit.record(actor(self.name, ctx), "loadbalancer.rotated", None, {"members": sorted(before)},
                         {"members": sorted(after)}, note=group)
        ctx.say(f"detached {len(detach)}, attached {len(attach)}; members now {', '.join(sorted(after))}")
        fronting = loadbalancer.dns_names(account, group, region)
        return Outcome(done=True, output={"detached": detach, "attached": attach, "members": after,
                                          "dns_name": fronting[0] if fronting else "",
                                          "public_name": ctx.state.get("public_name", "")})


action = register(RotateLoadBalancer())
