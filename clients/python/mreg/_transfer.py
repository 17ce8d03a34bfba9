"""Presigned PUTs and GETs straight to the store, through http.client.

A body is streamed from disk with an explicit Content-Length (S3 refuses chunked PUTs);
on plain HTTP ``socket.sendfile`` hands the file to the kernel, so no byte passes through
Python. Each thread keeps one keep-alive connection per host.
"""

import hashlib
import http.client
import re
import ssl
import threading
import urllib.parse
from typing import Callable, Dict, Optional, Tuple

from ._retry import Stopped
from .errors import TransferError

CHUNK = 8 * 1024 * 1024
READ_CHUNK = 1024 * 1024
TIMEOUT = 300.0

_local = threading.local()
_ssl_context = None
# Every thread's connections, so those of threads that have ended can be closed.
_pools: Dict[threading.Thread, Dict[Tuple[str, str], http.client.HTTPConnection]] = {}
_pools_lock = threading.Lock()


def close_idle_connections() -> None:
    """Closes the keep-alive connections of transfer threads that have ended (their pool shut down)."""
    with _pools_lock:
        ended = [thread for thread in _pools if not thread.is_alive()]
        pools = [_pools.pop(thread) for thread in ended]
    for pool in pools:
        for conn in pool.values():
            conn.close()


def _connection(scheme: str, netloc: str) -> http.client.HTTPConnection:
    pool: Dict[Tuple[str, str], http.client.HTTPConnection] = getattr(_local, "pool", None)
    if pool is None:
        pool = _local.pool = {}
        with _pools_lock:
            _pools[threading.current_thread()] = pool
    conn = pool.get((scheme, netloc))
    if conn is None:
        if scheme == "https":
            global _ssl_context
            if _ssl_context is None:
                _ssl_context = ssl.create_default_context()
            conn = http.client.HTTPSConnection(netloc, timeout=TIMEOUT, context=_ssl_context, blocksize=READ_CHUNK)
        elif scheme == "http":
            conn = http.client.HTTPConnection(netloc, timeout=TIMEOUT, blocksize=READ_CHUNK)
        else:
            raise TransferError(f"unsupported URL scheme {scheme!r} in a presigned URL")
        pool[(scheme, netloc)] = conn
    return conn


def _drop(scheme: str, netloc: str) -> None:
    pool = getattr(_local, "pool", None) or {}
    conn = pool.pop((scheme, netloc), None)
    if conn is not None:
        conn.close()


def _store_code(body: bytes) -> str:
    match = re.search(rb"<Code>([^<]+)</Code>", body or b"")
    return f" ({match.group(1).decode('utf-8', 'replace')})" if match else ""


def put_range(
    url: str,
    headers: Dict[str, str],
    path: str,
    start: int,
    end: int,
    on_bytes: Optional[Callable[[int], None]] = None,
    stop: Optional[threading.Event] = None,
) -> Optional[str]:
    """PUTs bytes [start, end) of a file with exactly the headers the plan gave; returns the ETag."""
    parts = urllib.parse.urlsplit(url)
    target = parts.path + ("?" + parts.query if parts.query else "")
    length = end - start
    sent = 0
    conn = _connection(parts.scheme, parts.netloc)
    try:
        try:
            conn.putrequest("PUT", target, skip_accept_encoding=True)
            for name, value in headers.items():
                conn.putheader(name, value)
            conn.putheader("Content-Length", str(length))
            conn.endheaders()
            with open(path, "rb") as handle:
                plain = conn.sock is not None and not isinstance(conn.sock, ssl.SSLSocket)
                while sent < length:
                    if stop is not None and stop.is_set():
                        raise Stopped()
                    count = min(CHUNK, length - sent)
                    if plain:
                        done = conn.sock.sendfile(handle, start + sent, count)
                    else:
                        handle.seek(start + sent)
                        data = handle.read(count)
                        conn.sock.sendall(data)
                        done = len(data)
                    if done <= 0:
                        raise TransferError(f"{path} ended after {sent} of {length} bytes")
                    sent += done
                    if on_bytes is not None:
                        on_bytes(done)
        except (OSError, http.client.HTTPException) as error:
            # A store that refuses early (an expired URL) answers before the body is sent: its status wins.
            status, body = _early_answer(conn)
            if status is not None and status >= 300:
                raise TransferError(f"PUT to the store failed with HTTP {status}{_store_code(body)}", status=status) from None
            raise TransferError(f"PUT to the store failed: {error.__class__.__name__}: {error}") from None
        try:
            response = conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as error:
            raise TransferError(f"PUT to the store failed: {error.__class__.__name__}: {error}") from None
        if response.status >= 300:
            raise TransferError(f"PUT to the store failed with HTTP {response.status}{_store_code(body)}", status=response.status)
        if response.will_close:
            _drop(parts.scheme, parts.netloc)
        return response.getheader("etag")
    except BaseException:
        _drop(parts.scheme, parts.netloc)
        if on_bytes is not None and sent:
            on_bytes(-sent)
        raise


def _early_answer(conn: http.client.HTTPConnection) -> Tuple[Optional[int], bytes]:
    try:
        if conn.sock is None:
            return None, b""
        conn.sock.settimeout(5)
        response = conn.getresponse()
        return response.status, response.read(4096)
    except Exception:
        return None, b""


def get_to_file(
    url: str,
    dest: str,
    on_bytes: Optional[Callable[[int], None]] = None,
    stop: Optional[threading.Event] = None,
) -> Tuple[int, str, Optional[str], Optional[str]]:
    """GETs a presigned URL into ``dest`` while hashing it → (size, sha256, etag, version id); the caller verifies and renames."""
    parts = urllib.parse.urlsplit(url)
    target = parts.path + ("?" + parts.query if parts.query else "")
    received = 0
    conn = _connection(parts.scheme, parts.netloc)
    try:
        try:
            conn.request("GET", target)
            response = conn.getresponse()
            if response.status >= 300:
                body = response.read()
                raise TransferError(f"GET from the store failed with HTTP {response.status}{_store_code(body)}", status=response.status)
            digest = hashlib.sha256()
            buffer = bytearray(READ_CHUNK)
            view = memoryview(buffer)
            with open(dest, "wb") as out:
                while True:
                    if stop is not None and stop.is_set():
                        raise Stopped()
                    n = response.readinto(buffer)
                    if not n:
                        break
                    digest.update(view[:n])
                    out.write(view[:n])
                    received += n
                    if on_bytes is not None:
                        on_bytes(n)
        except (OSError, http.client.HTTPException) as error:
            raise TransferError(f"GET from the store failed: {error.__class__.__name__}: {error}") from None
        if response.will_close:
            _drop(parts.scheme, parts.netloc)
        etag = response.getheader("etag")
        return received, digest.hexdigest(), etag.strip('"') if etag else None, response.getheader("x-amz-version-id")
    except BaseException:
        _drop(parts.scheme, parts.netloc)
        if on_bytes is not None and received:
            on_bytes(-received)
        raise


def is_refused(error: BaseException) -> bool:
    """403 from the store: the URL expired (or its credentials did); fresh URLs may help, once."""
    return isinstance(error, TransferError) and error.status == 403



