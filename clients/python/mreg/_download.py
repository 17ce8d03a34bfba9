"""Downloads, as the Node client does them (clients/node/src/download-files.ts, use-artifact.ts).

A reference is resolved once, then files are read by version number (an alias moving
meanwhile cannot mix two versions). The whole file list is checked against the digest the
registry reports for the version (clients/python/mreg/_manifest.py) before anything is
fetched; a file that fails to verify takes back every file the download placed. Files already in place with the right SHA-256 are left
alone; blobs in the download cache (``<cache>/blobs/<sha[:2]>/<sha>``, shared with the Node
client) are copied; the rest are fetched in parallel, verified (size, SHA-256, or a
reference's ETag) into a temp file and renamed, then kept in the cache.
"""

import concurrent.futures as cf
import hashlib
import os
import secrets
import shutil
import threading
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from ._api import ApiClient, seg
from ._hashing import HashCache, hash_with_cache
from ._progress import Progress, Silent
from ._refs import Ref
from ._retry import Stopped, with_retries
from ._transfer import close_idle_connections, get_to_file
from ._manifest import verify_listing
from .errors import IntegrityError, MregError, NotFound, TransferError


@dataclass
class Resolved:
    ref: Ref  # with the version number resolved
    version: dict  # the registry's answer for the version
    source: dict  # {project, artifact, version}: the artifact version behind it


@dataclass
class DownloadResult:
    path: str
    files: int = 0
    size: int = 0
    stats: Dict[str, int] = field(default_factory=dict)


def resolve(api: ApiClient, ref: Ref) -> Resolved:
    version = api.get(f"{ref.base_path}/versions{seg(ref.version or 'latest')}")
    source = version.get("source")
    if not source:
        if ref.kind != "artifact":
            raise MregError(f"the registry answered {ref} without its source artifact version")
        source = {"project": ref.scope, "artifact": ref.name, "version": version["version"]}
    return Resolved(ref.with_version(version["version"]), version, source)


def list_files(api: ApiClient, resolved: Resolved, prefix: Optional[str] = None) -> List[dict]:
    """Every file of the version, checked against the digest the registry reports for it
    before anything is trusted (so the whole list is read even for a prefix, applied here)."""
    digest = resolved.version.get("digest")
    what = str(resolved.ref)
    if not isinstance(digest, str):
        raise IntegrityError(f"{what}: the registry did not report the version's digest")
    files: List[dict] = []
    cursor = None
    while True:
        page = api.get(f"{resolved.ref.base_path}/versions{seg(resolved.ref.version)}/files", {"cursor": cursor})
        if page.get("digest") is not None and page["digest"] != digest:
            raise IntegrityError(f"{what}: the registry listed the files of digest {page['digest']}, not the version's {digest}")
        files.extend(page["items"])
        cursor = page.get("nextCursor")
        if not cursor:
            break
    verify_listing(files, digest, what)
    return files if prefix is None else [f for f in files if f["path"].startswith(prefix)]


def blob_cache_path(cache_dir: str, sha256: str) -> str:
    return os.path.join(cache_dir, "blobs", sha256[:2], sha256)


def ref_cache_path(cache_dir: str, entry: dict) -> str:
    key = hashlib.sha256(f"{entry['ref']}\0{entry.get('etag') or ''}\0{entry.get('versionId') or ''}".encode("utf-8")).hexdigest()
    return os.path.join(cache_dir, "refs", key[:2], key)


def destination_of(root: str, path: str) -> str:
    """The registry validates paths; this keeps a hostile manifest from writing outside ``root`` anyway."""
    dest = os.path.abspath(os.path.join(root, path))
    if not dest.startswith(root + os.sep):
        raise MregError(f"refusing to write {path}: it leaves {root}")
    return dest


def _temp_for(path: str) -> str:
    return os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{secrets.token_hex(6)}.mreg-tmp")


def _size_of(path: str) -> Optional[int]:
    try:
        stats = os.stat(path)
    except OSError:
        return None
    return stats.st_size if os.path.isfile(path) else None


class _Downloads:
    def __init__(self, cache_dir: Optional[str], hash_cache: Optional[HashCache], progress: Progress):
        self.cache_dir = cache_dir
        self.hash_cache = hash_cache
        self.progress = progress
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.fetches: Dict[str, cf.Future] = {}
        self.stats = {"downloadedBytes": 0, "cachedBytes": 0, "presentBytes": 0}
        # What this download wrote into the destination tree, taken back if anything fails to verify.
        self.placed_files: List[str] = []
        self.created_dirs: List[str] = []

    def make_dirs(self, directory: str) -> None:
        missing = []
        while directory and not os.path.isdir(directory):
            missing.append(directory)
            parent = os.path.dirname(directory)
            if parent == directory:
                break
            directory = parent
        os.makedirs(missing[0] if missing else directory, exist_ok=True)
        with self.lock:
            self.created_dirs.extend(missing)

    def placed(self, path: str) -> None:
        with self.lock:
            self.placed_files.append(path)

    def undo(self) -> None:
        for path in self.placed_files:
            try:
                os.remove(path)
            except FileNotFoundError:
                pass
        # Deepest first, and only when empty: a directory someone else filled meanwhile stays.
        for directory in sorted(set(self.created_dirs), key=len, reverse=True):
            try:
                os.rmdir(directory)
            except OSError:
                pass

    def count(self, key: str, size: int) -> None:
        with self.lock:
            self.stats[key] += size

    def on_bytes(self, delta: int) -> None:
        self.progress.advance("downloading", delta)

    def one(self, entry: dict, dest: str) -> None:
        if self.stop.is_set():
            raise Stopped()
        sha = entry.get("sha256")
        if sha is not None and _size_of(dest) == entry["size"] and hash_with_cache(dest, self.hash_cache)[0] == sha:
            self.count("presentBytes", entry["size"])
            self.on_bytes(entry["size"])
            return
        self.make_dirs(os.path.dirname(dest))
        cached = None
        if self.cache_dir is not None:
            if sha is not None:
                cached = blob_cache_path(self.cache_dir, sha)
            elif entry.get("ref") is not None and entry.get("etag") is not None:
                cached = ref_cache_path(self.cache_dir, entry)
        if cached is None:
            self.fetch_verified(entry, dest)
            self.placed(dest)
            self.count("downloadedBytes", entry["size"])
        else:
            # Entries with equal bytes share one fetch into the cache; the others copy from it.
            with self.lock:
                fetching = self.fetches.get(cached)
                first = fetching is None
                if first:
                    fetching = self.fetches[cached] = cf.Future()
            if first:
                try:
                    fetched = False
                    if _size_of(cached) != entry["size"]:
                        self.fetch_verified(entry, cached)
                        fetched = True
                    fetching.set_result(fetched)
                except BaseException as error:
                    fetching.set_exception(error)
                    raise
            fetched = fetching.result()
            self.place_copy(cached, dest)
            self.placed(dest)
            if fetched and first:
                self.count("downloadedBytes", entry["size"])
            else:
                self.count("cachedBytes", entry["size"])
                self.on_bytes(entry["size"])
        if sha is not None and self.hash_cache is not None:
            # Written from verified bytes: remember the hash so the next use or log need not read it.
            self.hash_cache.set(dest, os.stat(dest), sha)

    def fetch_verified(self, entry: dict, target: str) -> None:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        temp = _temp_for(target)
        try:
            try:
                size, sha, etag, version_id = with_retries(lambda: get_to_file(entry["url"], temp, self.on_bytes, self.stop), stop=self.stop)
            except TransferError as error:
                raise _describe_failure(entry, error) from None
            _check(entry, size, sha, etag, version_id)
            os.replace(temp, target)
        finally:
            try:
                os.remove(temp)
            except FileNotFoundError:
                pass

    @staticmethod
    def place_copy(source: str, dest: str) -> None:
        temp = _temp_for(dest)
        try:
            shutil.copyfile(source, temp)
            os.replace(temp, dest)
        finally:
            try:
                os.remove(temp)
            except FileNotFoundError:
                pass


def download_files(
    entries: List[dict],
    directory: str,
    cache_dir: Optional[str],
    hash_cache: Optional[HashCache],
    concurrency: int = 8,
    progress: Optional[Progress] = None,
) -> Dict[str, int]:
    progress = progress or Silent()
    root = os.path.abspath(directory)
    work = _Downloads(cache_dir, hash_cache, progress)
    progress.start("downloading", sum(e["size"] for e in entries))
    targets = [(entry, destination_of(root, entry["path"])) for entry in entries]
    first: Optional[BaseException] = None
    with cf.ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="mreg-download") as pool:
        futures = [pool.submit(work.one, entry, dest) for entry, dest in targets]
        for future in cf.as_completed(futures):
            error = future.exception()
            if error is not None and first is None and not isinstance(error, Stopped):
                first = error
                work.stop.set()
    close_idle_connections()
    if first is not None:
        progress.close()
        if isinstance(first, IntegrityError):
            # A version that does not check out is not half-installed.
            work.undo()
        raise first
    progress.end("downloading")
    return dict(work.stats, files=len(entries))


def _check(entry: dict, size: int, sha: str, etag: Optional[str], version_id: Optional[str]) -> None:
    if entry.get("ref") is not None:
        want_etag = (entry.get("etag") or "").strip('"') or None
        changed = (want_etag is not None and etag is not None and want_etag != etag) or (
            entry.get("versionId") is not None and version_id is not None and entry["versionId"] != version_id
        )
        if changed:
            raise IntegrityError(f"{entry['ref']} ({entry['path']}) changed since it was logged: ETag {entry.get('etag')} then, ETag {etag} now")
    if size != entry["size"]:
        if entry.get("ref") is not None:
            raise IntegrityError(f"{entry['ref']} ({entry['path']}) changed since it was logged: {entry['size']} bytes then, {size} now")
        raise IntegrityError(f"{entry['path']}: received {size} bytes, expected {entry['size']}")
    if entry.get("sha256") is not None and sha != entry["sha256"]:
        raise IntegrityError(
            f"{entry['path']}: received bytes with sha256 {sha}, expected {entry['sha256']}: "
            "the store's copy does not match the version, so none of its files were kept"
        )


def _describe_failure(entry: dict, error: TransferError) -> MregError:
    if entry.get("ref") is None:
        return error
    if error.status == 404:
        return NotFound(f"{entry['ref']} ({entry['path']}) no longer exists", status=404)
    if error.status == 403:
        return TransferError(f"{entry['ref']} ({entry['path']}) is not readable with the registry's credentials", status=403)
    return error
