"""What a run and the public API share: the API client, the transfer engine and its caches."""

import os
from typing import Optional

from ._api import ApiClient
from ._log import Engine
from ._progress import Progress
from ._settings import Settings, resolve_settings
from .errors import InvalidRequest

DEFAULT_CONCURRENCY = 8

_login: dict = {}


def set_login(url: Optional[str], api_key: Optional[str]) -> None:
    """What ``mreg.login`` was given; used by every client made afterwards in this process."""
    if url:
        _login["url"] = url
    if api_key:
        _login["api_key"] = api_key


def concurrency_from_env(env=os.environ) -> int:
    text = env.get("MREG_CONCURRENCY")
    if not text:
        return DEFAULT_CONCURRENCY
    try:
        value = int(text)
    except ValueError:
        raise InvalidRequest(f"MREG_CONCURRENCY must be a positive integer, not {text!r}") from None
    if value < 1:
        raise InvalidRequest(f"MREG_CONCURRENCY must be a positive integer, not {text!r}")
    return value


class Client:
    def __init__(self, url: Optional[str] = None, api_key: Optional[str] = None, cache_dir: Optional[str] = None):
        settings: Settings = resolve_settings(url or _login.get("url"), api_key or _login.get("api_key"))
        self.settings = settings
        self.cache_dir = cache_dir or settings.cache_dir
        self.api = ApiClient(settings.url, settings.api_key)
        self.concurrency = concurrency_from_env()
        self.engine = Engine(self.api, self.cache_dir, self.concurrency)

    @staticmethod
    def progress() -> Progress:
        return Progress()
