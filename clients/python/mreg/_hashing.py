"""SHA-256 of files, and the hash cache shared with the Node client (clients/node/src/hash-files.ts).

The cache remembers a file's SHA-256 by absolute path, valid while its size, mtime (in
milliseconds, as Node's ``mtimeMs``), inode and device are unchanged: one small JSON file per
path under ``<cache>/hashes/<sha256(path)>.json``, so a file hashed by either client is not
read again by the other.
"""

import hashlib
import json
import os
import threading
import time
import uuid
from typing import Callable, Optional, Tuple

from ._retry import Stopped
from .errors import InvalidRequest

READ_CHUNK = 4 * 1024 * 1024
# A file modified this close to its hashing might change again under the same mtime: not cached.
RACY_WINDOW_MS = 2000


def mtime_ms(stats: os.stat_result) -> float:
    """Node's ``Stats.mtimeMs``, computed the same way (seconds · 1000 + nanoseconds / 10⁶)."""
    seconds, nanos = divmod(stats.st_mtime_ns, 1_000_000_000)
    return seconds * 1000 + nanos / 1e6


def _number(value: float):
    return int(value) if float(value).is_integer() else value


def hash_file(path: str, on_bytes: Optional[Callable[[int], None]] = None, stop: Optional[threading.Event] = None) -> Tuple[str, int]:
    """Streams a file through SHA-256 (hashlib releases the GIL, so files hash in parallel threads)."""
    digest = hashlib.sha256()
    buffer = bytearray(READ_CHUNK)
    view = memoryview(buffer)
    size = 0
    with open(path, "rb", buffering=0) as handle:
        while True:
            if stop is not None and stop.is_set():
                raise Stopped()
            n = handle.readinto(buffer)
            if not n:
                break
            digest.update(view[:n])
            size += n
            if on_bytes is not None:
                on_bytes(n)
    return digest.hexdigest(), size


class HashCache:
    def __init__(self, directory: str):
        self.dir = directory

    def _entry_path(self, path: str) -> str:
        return os.path.join(self.dir, hashlib.sha256(path.encode("utf-8")).hexdigest() + ".json")

    def get(self, path: str, stats: os.stat_result) -> Optional[str]:
        try:
            with open(self._entry_path(path), "r", encoding="utf-8") as handle:
                entry = json.load(handle)
            fresh = (
                entry["path"] == path
                and entry["size"] == stats.st_size
                and entry["mtimeMs"] == mtime_ms(stats)
                and float(entry["ino"]) == float(stats.st_ino)
                and float(entry["dev"]) == float(stats.st_dev)
            )
            return entry["sha256"] if fresh else None
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def set(self, path: str, stats: os.stat_result, sha256: str) -> None:
        entry = {
            "path": path,
            "size": stats.st_size,
            "mtimeMs": _number(mtime_ms(stats)),
            "ino": stats.st_ino,
            "dev": stats.st_dev,
            "sha256": sha256,
        }
        target = self._entry_path(path)
        try:
            os.makedirs(self.dir, exist_ok=True)
            temp = f"{target}.{os.getpid()}.{uuid.uuid4().hex[:10]}.tmp"
            with open(temp, "w", encoding="utf-8") as handle:
                json.dump(entry, handle, separators=(",", ":"))
            os.replace(temp, target)
        except OSError:
            # A cache that cannot be written costs a re-hash next time, nothing more.
            pass


def cached_hash(path: str, cache: Optional[HashCache]) -> Optional[Tuple[str, int]]:
    if cache is None:
        return None
    stats = os.stat(path)
    sha = cache.get(path, stats)
    return None if sha is None else (sha, stats.st_size)


class FileChanged(InvalidRequest):
    def __init__(self, path: str):
        super().__init__(f"{path} changed while it was being read; log it again once it is written")
        self.path = path


def hash_with_cache(
    path: str,
    cache: Optional[HashCache],
    on_bytes: Optional[Callable[[int], None]] = None,
    stop: Optional[threading.Event] = None,
) -> Tuple[str, int, bool]:
    """(sha256, size, cached): from the cache when its stat still matches, else by reading; a file that changes while read is an error."""
    before = os.stat(path)
    if cache is not None:
        known = cache.get(path, before)
        if known is not None:
            return known, before.st_size, True
    started_ms = time.time() * 1000
    sha, size = hash_file(path, on_bytes, stop)
    after = os.stat(path)
    if after.st_size != before.st_size or after.st_mtime_ns != before.st_mtime_ns or size != before.st_size:
        raise FileChanged(path)
    if cache is not None and mtime_ms(after) < started_ms - RACY_WINDOW_MS:
        cache.set(path, after, sha)
    return sha, size, False
