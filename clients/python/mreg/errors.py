"""One exception hierarchy: every failure the client reports is an ``MregError``.

HTTP errors from the registry carry its status, error code and message; transfers to or
from the store that fail after their retries raise ``TransferError``.
"""

from typing import Optional


class MregError(Exception):
    """A failure the caller can act on; ``str(error)`` is one readable line."""

    def __init__(self, message: str, status: Optional[int] = None, code: Optional[str] = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class InvalidRequest(MregError):
    """The registry refused the request as malformed (400, 413, 422), or the client did before sending it."""


class PermissionDenied(MregError):
    """The API key is missing, unknown, revoked or expired (401), or lacks the right (403)."""


class NotFound(MregError):
    """No such project, artifact, version, alias, registry, collection or run (404)."""


class Conflict(MregError):
    """The request conflicts with the registry's state (409)."""


class ServerError(MregError):
    """The registry could not be reached, or kept answering 429 or 5xx after the retries."""


class TransferError(MregError):
    """A presigned upload or download to the store failed after its retries, or its bytes did not verify."""


class IntegrityError(TransferError):
    """What the registry or the store handed over does not match what the version records (a
    file list that does not hash to the version's digest, bytes that do not hash to their
    entry's SHA-256), or the registry found its own stored manifest corrupt. Never retried;
    nothing of the version is left on disk."""


_BY_STATUS = {
    400: InvalidRequest,
    401: PermissionDenied,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    413: InvalidRequest,
    422: InvalidRequest,
}


def error_for_status(status: int, code: str, message: str) -> MregError:
    if code == "integrity_error":
        return IntegrityError(message, status=status, code=code)
    return _BY_STATUS.get(status, ServerError)(message, status=status, code=code)


__all__ = [
    "MregError",
    "InvalidRequest",
    "PermissionDenied",
    "NotFound",
    "Conflict",
    "ServerError",
    "TransferError",
    "IntegrityError",
]
