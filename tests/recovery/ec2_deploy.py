"""A stand-in for Cybernance's deployment mechanism (their playbook re-provisions an application server from
code): one EC2 instance for the server from its newest AMI, tagged with what drportal passes in its
environment (DRPORTAL_KEY, DRPORTAL_SERVER), so drportal can tell it from the old instances by the tag.
Run by run_deployment as a detached command: python ec2_deploy.py SERVER ENDPOINT [REGION]. It builds in REGION,
else in the region drportal passes (DRPORTAL_REGION: the scenario's target region, us-west-2 when us-east-1 is
lost), else in us-east-1, from the AMIs that region holds; a playbook hard-wired to one region is REGION given
as a constant.

Idempotent as a real deployment must be: an instance already tagged with this key is reused.
"""

from __future__ import annotations

import os
import sys

import boto3


def main(server: str, endpoint: str, region: str = "") -> int:
    region = region or os.environ.get("DRPORTAL_REGION") or "us-east-1"
    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name=region, aws_access_key_id="AKIDTEST",
                       aws_secret_access_key="moto-secret")
    key = os.environ["DRPORTAL_KEY"]
    mine = ec2.describe_instances(Filters=[{"Name": "tag:drportal_key", "Values": [key]},
                                           {"Name": "instance-state-name", "Values": ["pending", "running"]}])
    found = [i["InstanceId"] for r in mine["Reservations"] for i in r["Instances"]]
    if found:
        print(f"{server}: {found[0]} already deployed for {key}")
        return 0
    images = [i for i in ec2.describe_images(Owners=["self"])["Images"] if i["Name"].startswith(f"{server}-")]
    if not images:
        print(f"{server}: no AMI to deploy from in {region}", file=sys.stderr)
        return 2
    # Images made within one second tie on CreationDate; their names carry the date.
    newest = max(images, key=lambda i: (i["CreationDate"], i["Name"]))
    tags = [{"Key": "Name", "Value": server}, {"Key": "drportal_key", "Value": key},
            {"Key": "drportal_server", "Value": os.environ.get("DRPORTAL_SERVER", server)}]
    made = ec2.run_instances(ImageId=newest["ImageId"], MinCount=1, MaxCount=1, InstanceType="m5.large",
                             TagSpecifications=[{"ResourceType": "instance", "Tags": tags}])
    print(f"{server}: {made['Instances'][0]['InstanceId']} in {region} from {newest['Name']} ({newest['ImageId']})")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
