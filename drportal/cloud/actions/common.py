"""Helpers every action uses: finding the server and account named in params, the audit actor, timeouts."""

from __future__ import annotations

from datetime import datetime

from drportal.cloud.actions.base import StepContext
from drportal.cloud.adapters.errors import AdapterError
from drportal.lib import clock


def bad_input(field: str, message: str) -> AdapterError:
    """Bad parameters: permanent, naming the field, raised before anything is done."""
    return AdapterError(f"{field}: {message}", permanent=True, code="BadInput")


def split_region(value) -> tuple[str, str]:
    """The one place a region is split: "aws/us-west-2" (how scenarios and the inventory name regions) →
    ("aws", "us-west-2"); a bare "us-west-2" → ("", "us-west-2"); nothing → ("", ""). Providers and commands
    are given the name only: EC2 refuses "aws/us-west-2", and a deployment told that region would build
    nowhere, or in the account's default region."""
    provider, _, name = str(value or "").strip().rpartition("/")
    return provider, name


def region_name(ctx: StepContext, name: str = "region") -> str:
    """params.<name> as the provider names it ("us-west-2"), or "" when the step names none."""
    return split_region(param(ctx, name))[1]


def actor(action: str, ctx: StepContext) -> str:
    return f"job:{action}#{ctx.idempotency_key}"


def param(ctx: StepContext, name: str, default=None, *, required: bool = False):
    value = ctx.params.get(name, default)
    if required and value in (None, "", []):
        raise bad_input(f"params.{name}", "is required")
    return value


def server_from(ctx: StepContext, name: str = "server"):
    from drportal.inventory.models import Server

    value = param(ctx, name, required=True)
    lookup = {"pk": value} if isinstance(value, int) else {"name": value}
    try:
        return Server.objects.select_related("account", "zone__region__provider").get(**lookup)
    except Server.DoesNotExist:
        raise bad_input(f"params.{name}", f"no server {value!r}") from None


def account_named(ctx: StepContext, field: str, name: str | None, fallback=None):
    """The account named in params (else the fallback, e.g. the server's); in a drill, its simulated twin."""
    from drportal.inventory.models import ProviderAccount

    if not name:
        if fallback is None:
            raise bad_input(field, "no provider account given and none on the server")
        account = fallback
    else:
        try:
            account = ProviderAccount.objects.select_related("provider").get(name=name)
        except ProviderAccount.DoesNotExist:
            raise bad_input(field, f"no provider account {name!r}") from None
    return drill_twin(ctx, field, account) if ctx.drill else account


def drill_twin(ctx: StepContext, field: str, account):
    """Drills never touch production: every account is swapped for its sandbox "<name>-drill" (any driver: a
    moto endpoint, a PowerDNS holding a drill zone, a simulated cloud of its own), else "<name>-sim", a
    simulated account."""
    from drportal.inventory.models import ProviderAccount

    if account.name.endswith("-drill"):
        return account
    sandbox = ProviderAccount.objects.select_related("provider").filter(name=f"{account.name}-drill").first()
    if sandbox is not None:
        return sandbox
    if account.driver == "simulated":
        return account
    twin = ProviderAccount.objects.select_related("provider").filter(name=f"{account.name}-sim",
                                                                     driver="simulated").first()
    if twin is None:
        raise AdapterError(f"{field}: drill mode needs a simulated account named {account.name}-sim", permanent=True,
                           code="NoDrillAccount")
    return twin


def started_at(ctx: StepContext) -> datetime:
    """When the step first ran (kept in ctx.state so a poll or a retry measures from the start)."""
    if "started_at" not in ctx.state:
        ctx.state["started_at"] = clock.now().isoformat()
    return datetime.fromisoformat(ctx.state["started_at"])


def check_timeout(ctx: StepContext, default_s: float, what: str, now: datetime | None = None) -> None:
    limit = float(ctx.params.get("timeout_s", default_s))
    elapsed = ((now or clock.now()) - started_at(ctx)).total_seconds()
    if elapsed > limit:
        raise AdapterError(f"timed out after {int(elapsed)} s waiting for {what}", permanent=True, code="Timeout")
