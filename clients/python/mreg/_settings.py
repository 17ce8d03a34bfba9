"""Where the registry is and who we are: the same sources, in the same order, as the Node CLI.

``MREG_URL`` / ``MREG_API_KEY`` win over the file ``mreg login`` saves (``MREG_CONFIG``, else
``$XDG_CONFIG_HOME/mreg/config.json``, else ``~/.config/mreg/config.json``); caches live in
``MREG_CACHE_DIR``, else ``$XDG_CACHE_HOME/mreg``, else ``~/.cache/mreg``.
"""

import json
import os
from dataclasses import dataclass
from typing import Mapping, Optional

from .errors import InvalidRequest, PermissionDenied

DEFAULT_URL = "http://127.0.0.1:8787"


def config_path(env: Mapping[str, str] = os.environ) -> str:
    if env.get("MREG_CONFIG"):
        return env["MREG_CONFIG"]
    base = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "mreg", "config.json")


def cache_dir(env: Mapping[str, str] = os.environ) -> str:
    if env.get("MREG_CACHE_DIR"):
        return env["MREG_CACHE_DIR"]
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "mreg")


def read_saved_config(path: str) -> dict:
    try:
        with open(path, "r", encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise InvalidRequest(f"cannot read {path}: {error.strerror}") from None
    try:
        saved = json.loads(text)
    except ValueError:
        raise InvalidRequest(f"{path} is not valid JSON; run mreg login again") from None
    if not isinstance(saved, dict):
        raise InvalidRequest(f"{path} is not an mreg configuration; run mreg login again")
    return {k: v for k, v in saved.items() if k in ("url", "apiKey") and isinstance(v, str) and v}


@dataclass(frozen=True)
class Settings:
    url: str
    api_key: str
    cache_dir: str


def resolve_settings(url: Optional[str] = None, api_key: Optional[str] = None, env: Mapping[str, str] = os.environ) -> Settings:
    saved = read_saved_config(config_path(env))
    chosen_url = url or env.get("MREG_URL") or saved.get("url") or DEFAULT_URL
    key = api_key or env.get("MREG_API_KEY") or saved.get("apiKey")
    if not key:
        raise PermissionDenied("no API key: run mreg login, or set MREG_API_KEY")
    return Settings(url=chosen_url.rstrip("/"), api_key=key, cache_dir=cache_dir(env))
