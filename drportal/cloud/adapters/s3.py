"""S3 through boto3: listing and fetching backup objects. Credentials come from the ProviderAccount at the
moment of use; options may carry `region` and `endpoint_url` (a moto server in tests and drills)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from drportal.cloud.adapters import aws
from drportal.cloud.adapters.errors import AdapterError

# Codes after which a retry cannot help.
PERMANENT = {"NoSuchBucket", "NoSuchKey", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "404", "403"}


def client(account) -> Any:
    # One way to build boto3 clients for an account (credentials at the moment of use, endpoint_url for
    # moto, botocore's retries off so retries happen in one place): drportal.cloud.adapters.aws.
    return aws.client(account, "s3")


def _wrap(exc: Exception) -> AdapterError:
    return aws.wrap(exc, "s3", PERMANENT)


def list_objects(account, bucket: str, prefix: str = "") -> Iterator[dict]:
    """Every object under the prefix: {key, size, etag, last_modified (aware)}; pages through
    list_objects_v2 with its continuation token."""
    s3 = client(account)
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                yield {"key": obj["Key"], "size": obj["Size"], "etag": obj.get("ETag", "").strip('"'),
                       "last_modified": obj["LastModified"]}
    except Exception as exc:
        raise _wrap(exc) from exc


def download(account, bucket: str, key: str, path: str) -> None:
    try:
        client(account).download_file(bucket, key, path)
    except Exception as exc:
        raise _wrap(exc) from exc
