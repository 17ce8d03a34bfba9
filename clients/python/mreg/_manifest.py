"""The canonical manifest and its digest, exactly as the registry computes them
(lambdas/contract/manifest.ts): a version's digest is the SHA-256 of this text, so a client
can check that a file listing is the very manifest the version was committed with."""

import hashlib
import json
import re
from typing import Iterable, List

from .errors import IntegrityError

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _utf16_order(path: str) -> bytes:
    # JavaScript compares strings by UTF-16 code units; Python by code points. They differ for
    # paths with characters beyond U+FFFF next to ones in U+E000–U+FFFF.
    return path.encode("utf-16-be", "surrogatepass")


def canonical_manifest(entries: Iterable[dict]) -> List[dict]:
    canonical = []
    for entry in sorted(entries, key=lambda e: _utf16_order(e["path"])):
        if entry.get("ref") is not None:
            item = {"path": entry["path"], "ref": entry["ref"], "size": entry["size"], "etag": entry["etag"]}
            if entry.get("versionId") is not None:
                item["versionId"] = entry["versionId"]
        else:
            item = {"path": entry["path"], "size": entry["size"], "sha256": entry.get("sha256")}
        canonical.append(item)
    return canonical


def canonical_text(entries: Iterable[dict]) -> str:
    """``JSON.stringify`` of the canonical form: no spaces, non-ASCII as is, lone surrogates escaped."""
    text = json.dumps(canonical_manifest(entries), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return _LONE_SURROGATE.sub(lambda m: "\\u%04x" % ord(m.group()), text)


def listing_digest(entries: Iterable[dict]) -> str:
    return hashlib.sha256(canonical_text(entries).encode("utf-8")).hexdigest()


def _well_formed(entry: dict) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("path"), str)
        and isinstance(entry.get("size"), int)
        and not isinstance(entry.get("size"), bool)
        and (entry.get("sha256") is None) != (entry.get("ref") is None)
    )


def verify_listing(entries: List[dict], digest: str, what: str) -> None:
    """Raises IntegrityError unless the complete listing hashes to the version's digest."""
    actual = listing_digest(entries) if all(_well_formed(e) for e in entries) else None
    if actual != digest:
        hashes = "" if actual is None else f" (it hashes to {actual})"
        raise IntegrityError(
            f"{what}: the registry's file list does not match the version's digest {digest}{hashes}; nothing was downloaded. "
            "The registry's store may have been tampered with: tell its operator"
        )
