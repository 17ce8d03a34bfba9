"""``mreg.Artifact``: what W&B's ``wandb.Artifact`` is for a script, logged or resolved."""

import os
import re
from typing import Any, Dict, List, Optional, Tuple

from ._api import seg
from ._download import download_files, list_files, resolve
from ._log import LocalFile, collect_files
from ._refs import Ref, check_name, safe_name
from .errors import InvalidRequest


class Artifact:
    """A named, typed set of files. Build one with ``add_file``/``add_dir``/``add_reference``
    and log it with ``run.log_artifact``; or get one from ``run.use_artifact``,
    ``run.log_artifact`` or ``Api().artifact`` and ``download`` it."""

    def __init__(self, name: str, type: str = "unspecified", description: Optional[str] = None, metadata: Optional[dict] = None):
        self.name = name
        self.type = type
        self.description = description
        self.metadata: Dict[str, Any] = dict(metadata or {})
        self._inputs: List[Tuple[str, Optional[str]]] = []
        self._references: List[Tuple[Optional[str], str]] = []
        # Known once logged or resolved.
        self.project: Optional[str] = None
        self.version: Optional[str] = None
        self.index: Optional[int] = None
        self.digest: Optional[str] = None
        self.created: Optional[bool] = None
        self.aliases: List[str] = []
        self.size: Optional[int] = None
        self.file_count: Optional[int] = None
        self.source: Optional[dict] = None
        #: The run that logged this version (its producer), when one did.
        self.run_id: Optional[str] = None
        #: Bytes moved by the call that produced this object (uploadedBytes, reusedBytes, hashedBytes, downloadedBytes, cachedBytes, …).
        self.stats: Dict[str, int] = {}
        self._client = None
        self._ref: Optional[Ref] = None

    # Building -------------------------------------------------------------------------------

    def add_file(self, local_path: str, name: Optional[str] = None) -> "Artifact":
        if not os.path.isfile(local_path):
            raise InvalidRequest(f"{local_path}: no such file")
        self._inputs.append((local_path, name))
        return self

    def add_dir(self, local_path: str, name: Optional[str] = None) -> "Artifact":
        if not os.path.isdir(local_path):
            raise InvalidRequest(f"{local_path}: no such directory")
        self._inputs.append((local_path, name))
        return self

    def add_reference(self, uri: str, name: Optional[str] = None) -> "Artifact":
        """``s3://bucket/key`` (logged under its last path segment, or ``name``) or
        ``s3://bucket/prefix/`` (every object below it; listing needs boto3 and your AWS credentials)."""
        if not isinstance(uri, str) or not re.match(r"^s3://[^/]+/.+", uri):
            raise InvalidRequest(f"invalid reference {uri!r}: expected s3://bucket/key or s3://bucket/prefix/")
        self._references.append((name, uri))
        return self

    def add(self, path: str, name: Optional[str] = None) -> "Artifact":
        return self.add_dir(path, name) if os.path.isdir(path) else self.add_file(path, name)

    def _local_files(self) -> List[LocalFile]:
        return collect_files(self._inputs)

    def _reference_entries(self) -> List[Tuple[str, str]]:
        from ._s3 import expand_reference

        entries: List[Tuple[str, str]] = []
        for name, uri in self._references:
            entries.extend(expand_reference(uri, name))
        return entries

    # Logged or resolved ---------------------------------------------------------------------

    @property
    def qualified_name(self) -> str:
        """``project/name:v3`` once logged; what ``use_artifact`` takes."""
        return f"{self.project}/{self.name}:{self.version}" if self.version else self.name

    @property
    def ref(self) -> str:
        return str(self._ref) if self._ref is not None else self.qualified_name

    def wait(self, timeout: Optional[float] = None) -> "Artifact":
        """Logging is synchronous here: the version exists when ``log_artifact`` returns."""
        return self

    def _require_remote(self) -> None:
        if self._client is None or self._ref is None:
            raise InvalidRequest(f"artifact {self.name} is not logged yet: log it with run.log_artifact first")

    def files(self, prefix: Optional[str] = None) -> List[dict]:
        """The version's manifest entries (path, size, sha256 or ref) with presigned URLs."""
        self._require_remote()
        resolved = resolve(self._client.api, self._ref)
        return list_files(self._client.api, resolved, prefix)

    def download(self, root: Optional[str] = None, path_prefix: Optional[str] = None) -> str:
        """Downloads what is not already local into ``root`` (default ``./artifacts/<name>-<version>``),
        verified, and answers the directory."""
        self._require_remote()
        client = self._client
        resolved = resolve(client.api, self._ref)
        entries = list_files(client.api, resolved, path_prefix)
        if not entries:
            where = "" if path_prefix is None else f" under {path_prefix}"
            raise InvalidRequest(f"{resolved.ref} has no files{where}")
        directory = os.path.abspath(root or os.path.join("artifacts", f"{self._ref.name}-{resolved.ref.version}"))
        stats = download_files(entries, directory, client.cache_dir, client.engine.hash_cache, client.concurrency, client.progress())
        self.stats = stats
        return directory

    def logged_by(self):
        """The run that produced this version (``RunInfo``: its config and metric summary), or None."""
        self._require_remote()
        source = self.source or {"project": self.project, "artifact": self.name, "version": self.version}
        if self.run_id is None:
            version = self._client.api.get(f"{artifact_path(source['project'], source['artifact'])}/versions{seg(source['version'])}")
            self.run_id = version.get("runId")
        if self.run_id is None:
            return None
        from ._public_api import RunInfo

        data = self._client.api.get(f"/v1/projects{seg(source['project'])}/runs{seg(self.run_id)}")
        return RunInfo(self._client, data)

    def __repr__(self) -> str:
        return f"<Artifact {self.ref} type={self.type}>"


def from_version(client, ref: Ref, version: dict, source: dict) -> Artifact:
    """An Artifact for a version the registry answered (an artifact's or a collection's)."""
    artifact = Artifact(ref.name, version.get("type", "unspecified"), version.get("description"), version.get("metadata"))
    artifact.project = source["project"] if ref.kind == "collection" else ref.scope
    if ref.kind == "collection":
        artifact.name = source["artifact"]
    artifact.version = source["version"] if ref.kind == "collection" else version["version"]
    artifact.index = version.get("index")
    artifact.digest = version.get("digest") or (version.get("source") or {}).get("digest")
    artifact.aliases = list(version.get("aliases", []))
    artifact.size = version.get("size")
    artifact.file_count = version.get("fileCount")
    artifact.created = False
    artifact.source = source
    if ref.kind == "artifact":
        artifact.run_id = version.get("runId")
    artifact._client = client
    artifact._ref = ref
    return artifact


def default_name(run_id: str, path: str) -> str:
    """W&B's default: the base name of the path, prefixed with the run's id."""
    return safe_name(f"run-{run_id}-{os.path.basename(os.path.normpath(path))}")


def artifact_path(project: str, name: str) -> str:
    check_name(project, "project")
    check_name(name, "artifact name")
    return f"/v1/projects{seg(project)}/artifacts{seg(name)}"
