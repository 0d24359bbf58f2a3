"""Load balancer members through boto3 ELBv2 (target groups of instances). `region` is where the target group is
(a rebuild in another region rotates that region's group); None is the account's own region."""

from __future__ import annotations

from drportal.cloud.adapters import aws, retry
from drportal.cloud.adapters.errors import AdapterError


def _provider(account) -> str:
    return f"elbv2:{account.name}"


def members(account, target_group_arn: str, region: str | None = None) -> dict[str, str]:
    """instance id → health state ("healthy", "unhealthy", "initial", "unused", "draining")."""
    elb = aws.client(account, "elbv2", region)
    found = retry.call(elb.describe_target_health, TargetGroupArn=target_group_arn, provider=_provider(account))
    return {d["Target"]["Id"]: d.get("TargetHealth", {}).get("State", "") for d in found["TargetHealthDescriptions"]}


def attach(account, target_group_arn: str, instance_ids: list[str], region: str | None = None) -> None:
    if instance_ids:
        elb = aws.client(account, "elbv2", region)
        retry.call(elb.register_targets, TargetGroupArn=target_group_arn,
                   Targets=[{"Id": i} for i in instance_ids], provider=_provider(account))


def detach(account, target_group_arn: str, instance_ids: list[str], region: str | None = None) -> None:
    if instance_ids:
        elb = aws.client(account, "elbv2", region)
        retry.call(elb.deregister_targets, TargetGroupArn=target_group_arn,
                   Targets=[{"Id": i} for i in instance_ids], provider=_provider(account))


def target_group_arn(account, name: str, region: str | None = None) -> str:
    """The ARN of a target group named in the inventory (ELBv2 calls need the ARN)."""
    elb = aws.client(account, "elbv2", region)
    try:
        found = retry.call(elb.describe_target_groups, Names=[name], provider=_provider(account))
    except AdapterError as exc:
        if exc.code == "TargetGroupNotFound":
            raise AdapterError(f"target group {name} does not exist", permanent=True, provider=_provider(account),
                               code="TargetGroupNotFound") from exc
        raise
    return found["TargetGroups"][0]["TargetGroupArn"]


def dns_names(account, target_group_arn: str, region: str | None = None) -> list[str]:
    """The DNS names of the load balancers that forward to a target group (what a public name points at)."""
    elb = aws.client(account, "elbv2", region)
    group = retry.call(elb.describe_target_groups, TargetGroupArns=[target_group_arn], provider=_provider(account))
    arns = group["TargetGroups"][0].get("LoadBalancerArns", [])
    if not arns:
        return []
    found = retry.call(elb.describe_load_balancers, LoadBalancerArns=arns, provider=_provider(account))
    return sorted(lb["DNSName"] for lb in found["LoadBalancers"])
