"""Exponential backoff with full jitter, as the Node client does (clients/node/src/retry.ts)."""

import random
import threading
import time
from typing import Callable, Optional, TypeVar

from .errors import IntegrityError, MregError, ServerError, TransferError

T = TypeVar("T")

RETRIES = 5
BASE_DELAY = 0.25
MAX_DELAY = 10.0
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})

# Another upload is verifying a blob the request needs (409 ``blob_busy``): it ends when that
# verification does, or within the claim's lease (30 s) after its holder died. As the Node
# client (BLOB_BUSY_RETRY in clients/node/src/retry.ts): about 95 s at most.
BLOB_BUSY_RETRIES = 12
BLOB_BUSY_BASE_DELAY = 0.5
BLOB_BUSY_MAX_DELAY = 10.0


class Stopped(Exception):
    """The work was called off (another transfer failed, or the caller stopped it)."""


def backoff_delay(attempt: int, base: float = BASE_DELAY, ceiling: float = MAX_DELAY) -> float:
    return random.random() * min(ceiling, base * 2 ** attempt)


def is_transient(error: BaseException) -> bool:
    """Network failures (no status) and the statuses that mean "try again"; every other answer is final."""
    if isinstance(error, IntegrityError):
        return False
    if isinstance(error, (ServerError, TransferError)):
        return error.status is None or error.status in TRANSIENT_STATUS
    return False


def is_blob_busy(error: BaseException) -> bool:
    """The registry's "retry this same request shortly", recognised by its code whatever the message says."""
    return isinstance(error, MregError) and error.status == 409 and error.code == "blob_busy"


def with_blob_busy_retries(run: Callable[[], T], sleep: Callable[[float], None] = time.sleep) -> T:
    attempt = 0
    while True:
        try:
            return run()
        except MregError as error:
            if attempt >= BLOB_BUSY_RETRIES or not is_blob_busy(error):
                raise
            sleep(backoff_delay(attempt, BLOB_BUSY_BASE_DELAY, BLOB_BUSY_MAX_DELAY))
            attempt += 1


def with_retries(
    run: Callable[[], T],
    retries: int = RETRIES,
    stop: Optional[threading.Event] = None,
    on_retry: Optional[Callable[[BaseException, int, float], None]] = None,
) -> T:
    attempt = 0
    while True:
        if stop is not None and stop.is_set():
            raise Stopped()
        try:
            return run()
        except MregError as error:
            if attempt >= retries or not is_transient(error):
                raise
            delay = backoff_delay(attempt)
            attempt += 1
            if on_retry is not None:
                on_retry(error, attempt, delay)
            if stop is not None:
                if stop.wait(delay):
                    raise Stopped() from None
            else:
                time.sleep(delay)
