"""Logging a version: hash, plan, send what the store lacks, commit. The protocol and guarantees
are the Node client's (clients/node/src/log-artifact.ts, upload-blobs.ts, open-uploads.ts).

1. Each file's SHA-256 comes from the hash cache when its stat still matches, else by reading
   it (parallel threads). A large file the cache does not know is sent while it is hashed,
   through an *open upload*, when the registry offers them.
2. ``POST …/uploads`` answers, per blob the store lacks, a presigned PUT or a multipart plan;
   blobs it holds are listed as present (and stop their open uploads).
3. Single PUTs and multipart parts of all files share one pool of transfers, each sent with
   exactly the headers the plan gave, retried with backoff and jitter; a 403 (expired URL)
   fetches fresh URLs once; each acknowledged part's ETag is saved so a re-run sends only
   the missing parts.
4. ``POST …/versions`` commits the manifest, naming every open upload.
"""

import concurrent.futures as cf
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from ._api import ApiClient, seg
from ._hashing import HashCache, cached_hash, hash_with_cache
from ._progress import Progress, Silent
from ._refs import check_alias, check_name
from ._retry import Stopped, with_retries
from ._transfer import close_idle_connections, is_refused, put_range
from ._upload_state import UploadState
from .errors import InvalidRequest, MregError, TransferError

OPEN_UPLOAD_MIN_BYTES = 64 * 1024 * 1024
MAX_OPEN_UPLOADS_PER_REQUEST = 1000
MAX_FILES_PER_REQUEST = 10_000
# A plan carries one URL per PUT and per part, and a Lambda answer is capped at 6 MB: blobs are
# planned in batches of bounded URL count (parts counted at S3's smallest part size, 1000 at most).
PLAN_URL_BUDGET = 2000
MIN_PART_SIZE = 5 * 1024 * 1024


@dataclass
class LocalFile:
    path: str
    absolute_path: str
    size: int


@dataclass
class LogResult:
    project: str
    artifact: str
    version: str
    index: int
    digest: str
    created: bool
    aliases: List[str]
    files: int
    size: int
    stats: Dict[str, int] = field(default_factory=dict)


def collect_files(inputs: List[Tuple[str, Optional[str]]]) -> List[LocalFile]:
    """Each input is (local path, name in the version or None). A file is logged under its
    name, a directory's files under their relative paths (below ``name`` when given)."""
    files: List[LocalFile] = []
    for local, name in inputs:
        absolute = os.path.abspath(local)
        if os.path.isfile(absolute):
            files.append(LocalFile(name or os.path.basename(absolute), absolute, os.stat(absolute).st_size))
        elif os.path.isdir(absolute):
            for root, dirs, names in os.walk(absolute):
                dirs.sort()
                for entry in sorted(names):
                    full = os.path.join(root, entry)
                    if not os.path.isfile(full):
                        continue
                    relative = os.path.relpath(full, absolute).replace(os.sep, "/")
                    files.append(LocalFile(f"{name.rstrip('/')}/{relative}" if name else relative, full, os.stat(full).st_size))
        elif os.path.exists(absolute):
            raise InvalidRequest(f"{local} is neither a file nor a directory")
        else:
            raise InvalidRequest(f"{local}: no such file or directory")
    seen: Dict[str, str] = {}
    for f in files:
        if f.path in seen:
            raise InvalidRequest(f"two files would be logged as {f.path}: {seen[f.path]} and {f.absolute_path}")
        seen[f.path] = f.absolute_path
    return sorted(files, key=lambda f: f.path)


def plan_batches(blobs: List[dict], budget: int = PLAN_URL_BUDGET) -> List[List[dict]]:
    batches: List[List[dict]] = []
    current: List[dict] = []
    used = 0
    for blob in blobs:
        urls = min(1000, max(1, -(-blob["size"] // MIN_PART_SIZE)))
        if current and used + urls > budget:
            batches.append(current)
            current, used = [], 0
        current.append(blob)
        used += urls
    if current:
        batches.append(current)
    return batches


def plan_parts(size: int, multipart: dict) -> List[dict]:
    """Part n covers [(n-1)·partSize, min(n·partSize, size)); the plan must name each part exactly once."""
    part_size = multipart.get("partSize")
    if not isinstance(part_size, int) or part_size <= 0:
        raise MregError(f"the registry planned an invalid part size {part_size}")
    expected = max(1, -(-size // part_size))
    parts = sorted(multipart["parts"], key=lambda p: p["partNumber"])
    if len(parts) != expected or any(p["partNumber"] != i + 1 for i, p in enumerate(parts)):
        raise MregError(f"the registry planned {len(parts)} parts for {size} bytes in parts of {part_size}; expected parts 1 to {expected}")
    return [
        {
            "partNumber": p["partNumber"],
            "url": p["url"],
            "headers": p.get("headers") or {},
            "start": (p["partNumber"] - 1) * part_size,
            "end": min(p["partNumber"] * part_size, size),
        }
        for p in parts
    ]


class _OpenTransfer:
    """A file being sent while it is hashed."""

    def __init__(self, path: str, size: int, upload_id: str):
        self.path = path
        self.size = size
        self.upload_id = upload_id
        self.stopper = threading.Event()
        self.sent = 0
        self.future: Optional[cf.Future] = None

    def stop(self) -> None:
        self.stopper.set()

    def outcome(self):
        """'sent', 'stopped', or the error that made it fail after its retries."""
        return self.future.result()


class _Context:
    def __init__(self, engine: "Engine", base: str, progress: Progress, on_part_uploaded, blobs_by_sha: Dict[str, dict]):
        self.engine = engine
        self.api = engine.api
        self.base = base
        self.progress = progress
        self.on_part_uploaded = on_part_uploaded
        self.blobs_by_sha = blobs_by_sha
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.uploaded_bytes = 0
        self.resumed_bytes = 0

    def on_bytes(self, delta: int) -> None:
        self.progress.advance("uploading", delta)

    def count(self, uploaded: int = 0, resumed: int = 0) -> None:
        with self.lock:
            self.uploaded_bytes += uploaded
            self.resumed_bytes += resumed

    def refresh(self, sha256: str) -> Optional[dict]:
        """Presigned URLs expire: the blob's plan again (the same uploadId for a multipart one); None once stored."""
        fresh = self.api.post(f"{self.base}/uploads", {"files": [self.blobs_by_sha[sha256]]})
        return fresh["uploads"][0] if fresh.get("uploads") else None


def _wait_all(ctx: _Context, futures: List[cf.Future]) -> None:
    """Waits for every future; the first hard failure stops the others and is the one raised."""
    first: Optional[BaseException] = None
    pending = set(futures)
    while pending:
        done, pending = cf.wait(pending, return_when=cf.FIRST_EXCEPTION)
        for future in done:
            error = future.exception()
            if error is not None and first is None and not isinstance(error, Stopped):
                first = error
                ctx.stop.set()
    if first is not None:
        raise first
    for future in futures:
        future.result()


class Engine:
    """The transfer machinery of one client: API, caches, and a bounded number of transfers in flight."""

    def __init__(self, api: ApiClient, cache_dir: Optional[str], concurrency: int = 8):
        self.api = api
        self.cache_dir = cache_dir
        self.concurrency = max(1, concurrency)
        self.hash_cache = HashCache(os.path.join(cache_dir, "hashes")) if cache_dir else None
        self.upload_state = UploadState(os.path.join(cache_dir, "uploads")) if cache_dir else None

    def log_files(
        self,
        project: str,
        name: str,
        files: List[LocalFile],
        type: str = "model",
        references: Optional[List[Tuple[str, str]]] = None,
        aliases: Optional[List[str]] = None,
        metadata: Optional[dict] = None,
        description: Optional[str] = None,
        run_id: Optional[str] = None,
        hash_first: bool = False,
        open_upload_min_bytes: int = OPEN_UPLOAD_MIN_BYTES,
        progress: Optional[Progress] = None,
        on_part_uploaded: Optional[Callable[[dict], None]] = None,
    ) -> LogResult:
        started = time.monotonic()
        progress = progress or Silent()
        references = references or []
        check_name(project, "project")
        check_name(name, "artifact name")
        check_name(type, "type")
        for alias in aliases or []:
            check_alias(alias)
        local_paths = {f.path for f in files}
        for path, ref in references:
            if path in local_paths:
                raise InvalidRequest(f"{ref} would be logged as {path}, which a local file already is")
        if not files and not references:
            raise InvalidRequest("nothing to log: no files found")
        if len(files) + len(references) > MAX_FILES_PER_REQUEST:
            raise InvalidRequest(f"a version holds at most {MAX_FILES_PER_REQUEST} files; this one would have {len(files) + len(references)}")
        base = f"/v1/projects{seg(project)}/artifacts{seg(name)}"
        pool = cf.ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="mreg-transfer")
        coordinators = cf.ThreadPoolExecutor(max_workers=16, thread_name_prefix="mreg-blob")
        blobs_by_sha: Dict[str, dict] = {}
        ctx = _Context(self, base, progress, on_part_uploaded, blobs_by_sha)
        opened: Dict[str, _OpenTransfer] = {}
        try:
            # 1. Hash; large files the cache does not know are sent meanwhile.
            hash_started = time.monotonic()
            known = [cached_hash(f.absolute_path, self.hash_cache) for f in files]
            unknown_large = [] if hash_first else [f for f, k in zip(files, known) if k is None and f.size >= open_upload_min_bytes]
            if unknown_large:
                opened = self._start_open_uploads(ctx, pool, unknown_large)
                progress.start("uploading", sum(t.size for t in opened.values()))
            try:
                entries, hashed_bytes = self._hash_all(files, known, progress)
            except BaseException:
                self._stop_all(opened)
                raise
            progress.end("hashing")
            hash_seconds = time.monotonic() - hash_started

            # 2-3. Plan in batches and send; a blob an open upload carries is not sent again.
            sources: Dict[str, Tuple[str, int]] = {}
            blobs: List[dict] = []
            for entry in entries:
                if entry["sha256"] in sources:
                    continue
                sources[entry["sha256"]] = (entry["absolutePath"], entry["size"])
                blob = {"path": entry["path"], "size": entry["size"], "sha256": entry["sha256"]}
                blobs.append(blob)
                blobs_by_sha[entry["sha256"]] = blob
            carrier: Dict[str, _OpenTransfer] = {}
            for entry in entries:
                transfer = opened.get(entry["path"])
                if transfer is None:
                    continue
                if entry["sha256"] in carrier:
                    self._stop_open(transfer, progress)
                else:
                    carrier[entry["sha256"]] = transfer
            present: set = set()
            waiting: List[Tuple[_OpenTransfer, dict]] = []
            try:
                for batch in plan_batches(blobs):
                    plan = self.api.post(f"{base}/uploads", {"files": batch})
                    for sha in plan.get("present", []):
                        present.add(sha)
                        if sha in carrier:
                            self._stop_open(carrier[sha], progress)
                    own = []
                    for upload in plan.get("uploads", []):
                        transfer = carrier.get(upload["sha256"])
                        if transfer is not None:
                            waiting.append((transfer, upload))
                        else:
                            own.append(upload)
                    progress.start("uploading", sum(u["size"] for u in own))
                    self._send(ctx, pool, coordinators, own, sources)
                # An open upload that failed after its retries is sent again the usual way.
                for transfer, upload in waiting:
                    outcome = transfer.outcome()
                    if outcome == "sent":
                        ctx.count(uploaded=transfer.size)
                        continue
                    carrier.pop(upload["sha256"], None)
                    self._send(ctx, pool, coordinators, [upload], sources)
            except BaseException:
                self._stop_all(opened)
                raise
            outcomes = {path: transfer.outcome() for path, transfer in opened.items()}
            progress.end("uploading")

            # 4. Commit, naming every open upload whatever became of it: the registry verifies
            #    the first that holds the file's bytes and deletes the rest.
            commit_files = []
            for entry in entries:
                item = {"path": entry["path"], "size": entry["size"], "sha256": entry["sha256"]}
                if entry["path"] in opened:
                    item["uploadId"] = opened[entry["path"]].upload_id
                commit_files.append(item)
            body: dict = {"type": type, "files": commit_files + [{"path": p, "ref": r} for p, r in references]}
            if metadata is not None:
                body["metadata"] = metadata
            if description is not None:
                body["description"] = description
            if aliases:
                body["aliases"] = list(aliases)
            if run_id is not None:
                body["runId"] = run_id
            committed = self.api.post(f"{base}/versions", body)
        finally:
            ctx.stop.set()
            for transfer in opened.values():
                transfer.stop()
            pool.shutdown(wait=True)
            coordinators.shutdown(wait=True)
            close_idle_connections()
            progress.close()
        carried = {id(t) for t, u in waiting if carrier.get(u["sha256"]) is t and outcomes.get(t.path) == "sent"}
        discarded = sum((t.sent - t.size) if id(t) in carried else t.sent for t in opened.values())
        stats = {
            "uploadedBytes": ctx.uploaded_bytes,
            "resumedBytes": ctx.resumed_bytes,
            "reusedBytes": sum(sources[sha][1] for sha in present if sha in sources),
            "hashedBytes": hashed_bytes,
            "sentWhileHashing": len(carried),
            "discardedBytes": discarded,
            "hashMs": round(hash_seconds * 1000),
            "totalMs": round((time.monotonic() - started) * 1000),
        }
        return LogResult(
            project=project,
            artifact=name,
            version=committed["version"],
            index=committed["index"],
            digest=committed["digest"],
            created=committed["created"],
            aliases=committed.get("aliases", []),
            files=len(entries) + len(references),
            size=sum(e["size"] for e in entries),
            stats=stats,
        )

    def _hash_all(self, files: List[LocalFile], known, progress: Progress) -> Tuple[List[dict], int]:
        progress.start("hashing", sum(f.size for f in files))
        hashed = [0]
        lock = threading.Lock()
        stop = threading.Event()

        def one(f: LocalFile, cached) -> dict:
            if cached is not None:
                progress.advance("hashing", cached[1])
                return {"path": f.path, "size": cached[1], "sha256": cached[0], "absolutePath": f.absolute_path}
            sha, size, from_cache = hash_with_cache(
                f.absolute_path, self.hash_cache, on_bytes=lambda n: progress.advance("hashing", n), stop=stop
            )
            if from_cache:
                progress.advance("hashing", size)
            else:
                with lock:
                    hashed[0] += size
            return {"path": f.path, "size": size, "sha256": sha, "absolutePath": f.absolute_path}

        workers = max(1, min(4, os.cpu_count() or 1))
        if len(files) <= 1:
            return [one(f, k) for f, k in zip(files, known)], hashed[0]
        with cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mreg-hash") as hashers:
            futures = [hashers.submit(one, f, k) for f, k in zip(files, known)]
            try:
                return [future.result() for future in futures], hashed[0]
            except BaseException:
                stop.set()
                raise

    def _start_open_uploads(self, ctx: _Context, pool: cf.ThreadPoolExecutor, files: List[LocalFile]) -> Dict[str, _OpenTransfer]:
        try:
            plan = self.api.post(
                f"{ctx.base}/uploads",
                {"files": [], "open": [{"path": f.path, "size": f.size} for f in files[:MAX_OPEN_UPLOADS_PER_REQUEST]]},
            )
        except InvalidRequest as error:
            if error.status == 400:
                return {}  # a registry without open uploads
            raise
        by_path = {f.path: f for f in files}
        opened: Dict[str, _OpenTransfer] = {}
        for upload in plan.get("open") or []:
            f = by_path.get(upload["path"])
            if f is None or f.size != upload["size"]:
                continue
            transfer = _OpenTransfer(f.path, f.size, upload["uploadId"])

            def send(transfer=transfer, upload=upload, path=f.absolute_path):
                def counted(delta: int) -> None:
                    if delta > 0:
                        transfer.sent += delta
                    ctx.on_bytes(delta)

                try:
                    with_retries(
                        lambda: put_range(upload["url"], upload.get("headers") or {}, path, 0, transfer.size, counted, transfer.stopper),
                        stop=transfer.stopper,
                    )
                    return "sent"
                except Stopped:
                    return "stopped"
                except MregError as error:
                    if transfer.stopper.is_set():
                        return "stopped"
                    return error

            transfer.future = pool.submit(send)
            opened[f.path] = transfer
        return opened

    @staticmethod
    def _stop_open(transfer: _OpenTransfer, progress: Progress) -> None:
        """The store holds this blob already: its open upload ends, and leaves the progress line."""
        transfer.stop()
        transfer.future.add_done_callback(lambda f: progress.start("uploading", -transfer.size) if f.result() != "sent" else None)

    @staticmethod
    def _stop_all(opened: Dict[str, _OpenTransfer]) -> None:
        for transfer in opened.values():
            transfer.stop()
        for transfer in opened.values():
            transfer.future.exception()

    def _send(self, ctx: _Context, pool, coordinators, uploads: List[dict], sources: Dict[str, Tuple[str, int]]) -> None:
        futures = []
        for upload in uploads:
            source = sources.get(upload["sha256"])
            if source is None:
                raise MregError(f"the registry planned an upload of unknown sha256 {upload['sha256']}")
            if source[1] != upload["size"]:
                raise MregError(f"the registry planned {upload['size']} bytes for {source[0]}, which has {source[1]}")
            if "multipart" in upload:
                futures.append(coordinators.submit(self._multipart, ctx, pool, upload, source))
            else:
                futures.append(pool.submit(self._single, ctx, upload, source))
        _wait_all(ctx, futures)

    def _single(self, ctx: _Context, upload: dict, source: Tuple[str, int]) -> None:
        path, size = source

        def put(target: dict) -> None:
            with_retries(lambda: put_range(target["url"], target.get("headers") or {}, path, 0, size, ctx.on_bytes, ctx.stop), stop=ctx.stop)

        if ctx.stop.is_set():
            raise Stopped()
        try:
            put(upload)
        except TransferError as error:
            if not is_refused(error):
                raise
            fresh = ctx.refresh(upload["sha256"])
            if fresh is None:
                return  # stored meanwhile by someone else
            if "multipart" in fresh:
                raise _changed(path) from None
            put(fresh)
        ctx.count(uploaded=size)

    def _multipart(self, ctx: _Context, pool, upload: dict, source: Tuple[str, int]) -> None:
        path, size = source
        sha = upload["sha256"]
        upload_id = upload["multipart"]["uploadId"]
        part_size = upload["multipart"]["partSize"]
        parts = plan_parts(size, upload["multipart"])
        state = self.upload_state
        refresh_lock = threading.Lock()
        refreshed = [False]

        def refresh_urls() -> None:
            # Fetched at most once per blob however many parts find their URL expired.
            with refresh_lock:
                if refreshed[0]:
                    return
                fresh = ctx.refresh(sha)
                if fresh is None or "multipart" not in fresh or fresh["multipart"]["uploadId"] != upload_id:
                    raise _changed(path)
                urls = {p["partNumber"]: p for p in plan_parts(size, fresh["multipart"])}
                for part in parts:
                    part["url"] = urls[part["partNumber"]]["url"]
                    part["headers"] = urls[part["partNumber"]]["headers"]
                refreshed[0] = True

        def send_part(part: dict) -> str:
            if ctx.stop.is_set():
                raise Stopped()

            def send() -> Optional[str]:
                return with_retries(
                    lambda: put_range(part["url"], part["headers"], path, part["start"], part["end"], ctx.on_bytes, ctx.stop), stop=ctx.stop
                )

            try:
                etag = send()
            except TransferError as error:
                if not is_refused(error):
                    raise
                refresh_urls()
                etag = send()
            if not etag:
                raise TransferError(f"the store sent no ETag for part {part['partNumber']} of {path}")
            if state is not None:
                state.record_part(sha, upload_id, part_size, part["partNumber"], etag)
            ctx.count(uploaded=part["end"] - part["start"])
            if ctx.on_part_uploaded is not None:
                ctx.on_part_uploaded({"sha256": sha, "uploadId": upload_id, "partNumber": part["partNumber"], "size": part["end"] - part["start"]})
            return etag

        def send_parts(skip: Dict[int, str]) -> Tuple[Dict[int, str], int]:
            etags = dict(skip)
            skipped = 0
            for part in parts:
                if part["partNumber"] in skip:
                    skipped += part["end"] - part["start"]
            ctx.count(resumed=skipped)
            ctx.on_bytes(skipped)
            todo = [part for part in parts if part["partNumber"] not in skip]
            futures = [pool.submit(send_part, part) for part in todo]
            _wait_all(ctx, futures)
            for part, future in zip(todo, futures):
                etags[part["partNumber"]] = future.result()
            return etags, skipped

        def complete(etags: Dict[int, str]) -> None:
            if ctx.stop.is_set():
                raise Stopped()
            ctx.api.post(
                f"{ctx.base}/uploads/complete",
                {"sha256": sha, "uploadId": upload_id, "parts": [{"partNumber": n, "etag": etags[n]} for n in sorted(etags)]},
            )

        resumed = state.completed_parts(sha, upload_id, part_size) if state is not None else {}
        etags, skipped = send_parts(resumed)
        try:
            complete(etags)
        except InvalidRequest as error:
            # Parts remembered from an earlier run may be gone from the store (an aborted
            # upload): forget them and send the whole blob once more under the same uploadId.
            if not (resumed and error.status == 422):
                raise
            if state is not None:
                state.forget(upload_id)
            ctx.count(resumed=-skipped)
            ctx.on_bytes(-skipped)
            etags, _ = send_parts({})
            complete(etags)
        if state is not None:
            state.forget(upload_id)


def _changed(path: str) -> MregError:
    return MregError(f"the registry changed the upload of {path} while it was being sent; log it again")
