"""``mreg.Api()``: reading the registry outside a run (resolve and download, list collections, read runs)."""

from typing import Any, Dict, Iterator, List, Optional

from ._api import seg
from ._artifact import Artifact, from_version
from ._client import Client
from ._download import resolve
from ._refs import check_name, parse_ref


class Collection:
    """A registry collection ("registered model"): its aliases map each alias to a version label."""

    def __init__(self, data: Dict[str, Any], client: Optional[Client] = None):
        self._client = client
        self._aliases: Optional[Dict[str, str]] = dict(data["aliases"]) if data.get("aliases") or client is None else None
        self.registry: str = data["registry"]
        self.name: str = data["name"]
        self.type: str = data.get("type", "")
        self.description: Optional[str] = data.get("description")
        self.tags: List[str] = list(data.get("tags", []))
        self.latest: Optional[str] = data.get("latest")
        self.link_count: int = data.get("linkCount", 0)
        self.created_at: Optional[str] = data.get("createdAt")

    @property
    def aliases(self) -> Dict[str, str]:
        """Alias → version label (``latest`` included); a listing leaves them out, so they are read on first use."""
        if self._aliases is None:
            data = self._client.api.get(f"/v1/registries{seg(self.registry)}/collections{seg(self.name)}")
            self._aliases = dict(data.get("aliases", {}))
        return self._aliases

    @property
    def ref(self) -> str:
        return f"@{self.registry}/{self.name}"

    def __repr__(self) -> str:
        return f"<Collection {self.ref} latest={self.latest}>"


class RunInfo:
    """A run as the registry keeps it: its config and summary (each metric's last value)."""

    def __init__(self, client: Client, data: Dict[str, Any]):
        self._client = client
        self.project: str = data["project"]
        self.id: str = data["id"]
        self.name: Optional[str] = data.get("name")
        self.config: Dict[str, Any] = data.get("config", {})
        self.summary: Dict[str, float] = data.get("summary", {})
        self.created_at: str = data.get("createdAt", "")
        self.created_by: str = data.get("createdBy", "")

    def history(self, key: str) -> List[Dict[str, Any]]:
        """The kept points of one metric, ``[{step, value}]``, oldest first."""
        answer = self._client.api.get(f"/v1/projects{seg(self.project)}/runs{seg(self.id)}/metrics", {"key": key})
        return answer["points"]

    def __repr__(self) -> str:
        return f"<RunInfo {self.project}/{self.id}>"


class Api:
    def __init__(self, url: Optional[str] = None, api_key: Optional[str] = None, overrides: Optional[dict] = None):
        overrides = overrides or {}
        self._client = Client(url or overrides.get("base_url"), api_key or overrides.get("api_key"))

    def artifact(self, name: str, type: Optional[str] = None) -> Artifact:
        """A version by reference (``project/name:alias``, ``@registry/collection:alias``, …); ``.download(dir)`` fetches it."""
        ref = parse_ref(name)
        resolved = resolve(self._client.api, ref)
        artifact = from_version(self._client, resolved.ref, resolved.version, resolved.source)
        if type is not None and artifact.type != type:
            from .errors import InvalidRequest

            raise InvalidRequest(f"{resolved.ref} is of type {artifact.type}, not {type}")
        return artifact

    def collections(self, registry: str, tag: Optional[str] = None, query: Optional[str] = None) -> Iterator[Collection]:
        """A registry's collections, all pages, optionally with a tag or a part of the name."""
        check_name(registry, "registry")
        cursor = None
        while True:
            page = self._client.api.get(f"/v1/registries{seg(registry)}/collections", {"tag": tag, "q": query, "cursor": cursor, "limit": 100})
            for item in page["items"]:
                yield Collection(item, self._client)
            cursor = page.get("nextCursor")
            if not cursor:
                return

    def collection(self, registry: str, name: str) -> Collection:
        path = f"/v1/registries{seg(check_name(registry, 'registry'))}/collections{seg(check_name(name, 'collection'))}"
        return Collection(self._client.api.get(path), self._client)

    def registries(self) -> List[Dict[str, Any]]:
        items: List[Dict[str, Any]] = []
        cursor = None
        while True:
            page = self._client.api.get("/v1/registries", {"cursor": cursor, "limit": 100})
            items.extend(page["items"])
            cursor = page.get("nextCursor")
            if not cursor:
                return items

    def usage(self, project: Optional[str] = None) -> Dict[str, Any]:
        """Storage of a project, or of the whole registry (org admins): logicalBytes, storedBytes, dedupRatio, versions, files, blobs."""
        if project is None:
            return self._client.api.get("/v1/usage")
        return self._client.api.get(f"/v1/projects{seg(check_name(project, 'project'))}/usage")

    def run(self, path: str) -> RunInfo:
        """``project/run_id`` (W&B's ``entity/project/run_id`` too)."""
        parts = path.split("/")
        if len(parts) not in (2, 3):
            from .errors import InvalidRequest

            raise InvalidRequest(f"invalid run path {path!r}: expected project/run_id")
        project, run_id = parts[-2], parts[-1]
        return RunInfo(self._client, self._client.api.get(f"/v1/projects{seg(check_name(project, 'project'))}/runs{seg(check_name(run_id, 'run id'))}"))
