"""JSON over HTTP with the API key; error bodies become the exception hierarchy, transient failures are retried."""

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Mapping, Optional

from . import __version__
from ._retry import with_blob_busy_retries, with_retries
from .errors import MregError, ServerError, error_for_status

USER_AGENT = f"mreg-python/{__version__}"
TIMEOUT = 300.0


def seg(*segments: Any) -> str:
    """Encodes each path segment: ``seg("p", "a b")`` → ``/p/a%20b``."""
    return "".join("/" + urllib.parse.quote(str(s), safe="") for s in segments)


class ApiClient:
    def __init__(self, url: str, api_key: str, retries: int = 3):
        self.url = url.rstrip("/")
        self._api_key = api_key
        self._retries = retries

    def get(self, path: str, query: Optional[Mapping[str, Any]] = None) -> Any:
        return self.request("GET", path, query=query)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, body=body)

    def put(self, path: str, body: Any = None) -> Any:
        return self.request("PUT", path, body=body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def request(self, method: str, path: str, body: Any = None, query: Optional[Mapping[str, Any]] = None) -> Any:
        """Every call the client makes is idempotent (plans, commits by digest, links, runs), so all are retried:
        on network errors, 429 and 5xx, and for longer while another upload verifies a blob the request needs."""
        target = self.url + path
        if query:
            pairs = [(k, str(v).lower() if isinstance(v, bool) else str(v)) for k, v in query.items() if v is not None]
            if pairs:
                target += "?" + urllib.parse.urlencode(pairs)
        data = None if body is None else json.dumps(body, separators=(",", ":"), allow_nan=False).encode("utf-8")
        return with_blob_busy_retries(lambda: with_retries(lambda: self._once(method, target, data), retries=self._retries))

    def _once(self, method: str, target: str, data: Optional[bytes]) -> Any:
        headers = {"authorization": f"Bearer {self._api_key}", "accept": "application/json", "user-agent": USER_AGENT}
        if data is not None:
            headers["content-type"] = "application/json"
        request = urllib.request.Request(target, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                text = response.read()
        except urllib.error.HTTPError as error:
            try:
                text = error.read()
            except OSError:
                text = b""
            finally:
                error.close()
            raise _to_error(error.code, text, method, target) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ServerError(f"cannot reach the registry at {self.url}: {reason}") from None
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            raise ServerError(f"the registry answered {method} {urllib.parse.urlsplit(target).path} with invalid JSON") from None


def _to_error(status: int, text: bytes, method: str, target: str) -> MregError:
    try:
        body = json.loads(text)
        error = body["error"]
        return error_for_status(status, str(error["code"]), str(error["message"]))
    except (ValueError, KeyError, TypeError):
        path = urllib.parse.urlsplit(target).path
        hint = " (is this an mreg registry, and does it serve this route?)" if status == 404 else ""
        return error_for_status(status, "http_error", f"{method} {path} failed with HTTP {status}{hint}")
