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
