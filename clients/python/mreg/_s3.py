"""``s3://`` references, as the Node CLI's ``--ref`` takes them: a single object needs nothing;
listing a prefix (``s3://bucket/prefix/``) uses boto3 with your own AWS credentials, when installed."""

import posixpath
import re
from typing import List, Optional, Tuple

from .errors import InvalidRequest

_S3 = re.compile(r"^s3://([^/]+)/(.+)$")


def expand_reference(uri: str, name: Optional[str] = None) -> List[Tuple[str, str]]:
    """(path in the version, uri) for each object the reference names."""
    match = _S3.match(uri)
    if not match:
        raise InvalidRequest(f"invalid reference {uri!r}: expected s3://bucket/key or s3://bucket/prefix/")
    bucket, key = match.groups()
    if not key.endswith("/"):
        return [(name or posixpath.basename(key), uri)]
    try:
        import boto3  # noqa: F401  (optional: only listing a prefix needs it)
    except ImportError:
        raise InvalidRequest(
            f"listing {uri} needs boto3 (pip install boto3) and AWS credentials; or name single objects (s3://bucket/key)"
        ) from None
    try:
        client = boto3.client("s3")
        paginator = client.get_paginator("list_objects_v2")
        keys = [
            obj["Key"]
            for page in paginator.paginate(Bucket=bucket, Prefix=key)
            for obj in page.get("Contents", [])
            if not obj["Key"].endswith("/")
        ]
    except Exception as error:  # boto3's own exception types are not importable without it
        raise InvalidRequest(f"cannot list {uri} with your AWS credentials ({error.__class__.__name__}); name single objects instead") from None
    if not keys:
        raise InvalidRequest(f"no objects under {uri}")
    prefix = (name.rstrip("/") + "/") if name else ""
    return [(prefix + k[len(key) :], f"s3://{bucket}/{k}") for k in keys]
