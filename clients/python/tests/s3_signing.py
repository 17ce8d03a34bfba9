"""Just enough SigV4 to act as a bucket writer against the embedded store in tests: what
anyone holding the registry's credentials (or a compromised process on the machine) can do."""

import datetime
import hashlib
import hmac
import urllib.error
import urllib.parse
import urllib.request
from typing import Dict, Optional, Tuple


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def signed_request(
    endpoint: str,
    method: str,
    path: str,
    credentials: Optional[Dict[str, str]],
    body: bytes = b"",
    region: str = "us-east-1",
) -> Tuple[int, bytes]:
    """Sends ``method path`` to the store, signed with ``credentials`` (unsigned when None)."""
    url = urllib.parse.urlsplit(endpoint)
    quoted = urllib.parse.quote(path, safe="/-_.~")
    headers = {}
    if credentials is not None:
        now = datetime.datetime.now(datetime.timezone.utc)
        amz_date = now.strftime("%Y%m%dT%H%M%SZ")
        day = now.strftime("%Y%m%d")
        payload = hashlib.sha256(body).hexdigest()
        headers = {"host": url.netloc, "x-amz-content-sha256": payload, "x-amz-date": amz_date}
        signed = ";".join(sorted(headers))
        canonical = "\n".join(
            [method, quoted, "", "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)), signed, payload]
        )
        scope = f"{day}/{region}/s3/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        key = _hmac(_hmac(_hmac(_hmac(("AWS4" + credentials["secretAccessKey"]).encode(), day), region), "s3"), "aws4_request")
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={credentials['accessKeyId']}/{scope}, SignedHeaders={signed}, Signature={signature}"
        )
    request = urllib.request.Request(endpoint + quoted, data=body if method in ("PUT", "POST") else None, method=method)
    for name, value in headers.items():
        if name != "host":
            request.add_header(name, value)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
