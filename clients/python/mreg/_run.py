"""``mreg.init`` and the Run it returns: W&B's run verbs over the registry's HTTP API."""

import json
import math
import numbers
import os
import random
import string
import sys
import threading
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from ._api import seg
from ._artifact import Artifact, default_name, from_version
from ._client import Client
from ._download import resolve
from ._progress import silenced
from ._refs import METRIC_KEY_PATTERN, check_alias, check_name, parse_link_target, parse_ref, safe_name
from .errors import InvalidRequest, MregError

DEFAULT_PROJECT = "uncategorized"
# What one metrics request may carry (lambdas/contract/runs.ts).
MAX_ITEMS_PER_REQUEST = 1000
MAX_KEYS_PER_REQUEST = 100
FLUSH_SECONDS = 1.0
MAX_BUFFERED_ITEMS = 100_000


def _warn(message: str) -> None:
    if not silenced():
        print(f"mreg: {message}", file=sys.stderr)


def _generated_id() -> str:
    return "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(8))


def _json_safe(value: Any) -> Any:
    """Config values the registry can store: JSON, anything else as its string form, NaN and infinities as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if hasattr(value, "item"):
        try:
            return _json_safe(value.item())
        except Exception:
            pass
    return str(value)


class Config(dict):
    """``run.config``: a dict with attribute access (``run.config.lr``), saved on the run."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def update(self, *args, allow_val_change: bool = True, **kwargs) -> None:  # W&B's keyword is accepted
        super().update(*args, **kwargs)

    def setdefaults(self, values: Mapping[str, Any]) -> None:
        for key, value in values.items():
            self.setdefault(key, value)


class Summary(Mapping):
    """``run.summary``: each metric's last value, read back from the registry; setting a key logs it."""

    def __init__(self, run: "Run"):
        self._run = run
        self._seen: Optional[Tuple[int, Dict[str, float]]] = None

    def _current(self) -> Dict[str, float]:
        # Read once per change: only a `log` changes the summary, so `dict(run.summary)` is one request.
        logged = self._run._logged
        if self._seen is None or self._seen[0] != logged:
            self._run._flush_metrics(raise_errors=True)
            self._seen = (logged, self._run._fetch()["summary"])
        return self._seen[1]

    def __getitem__(self, key: str) -> float:
        return self._current()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())

    def __setitem__(self, key: str, value: float) -> None:
        self._run._record({key: value}, step=None)
        self._run._flush_metrics(raise_errors=True)

    def update(self, values: Mapping[str, float]) -> None:
        self._run._record(dict(values), step=None)
        self._run._flush_metrics(raise_errors=True)

    def __repr__(self) -> str:
        return repr(dict(self._current()))


class LinkedVersion:
    """A version linked into a registry collection: ``@model/mnist-classifier:v3``."""

    def __init__(self, registry: str, collection: str, answer: dict, source: Artifact):
        self.registry = registry
        self.collection = collection
        self.version: str = answer["version"]
        self.index: int = answer["index"]
        self.created: bool = answer["created"]
        self.aliases: List[str] = list(answer.get("aliases", []))
        self.source = source

    @property
    def ref(self) -> str:
        return f"@{self.registry}/{self.collection}:{self.version}"

    def __repr__(self) -> str:
        return f"<LinkedVersion {self.ref} of {self.source.qualified_name}>"


def _numbers(data: Mapping[str, Any], prefix: str = "") -> Tuple[Dict[str, float], List[str]]:
    """The numeric values of a ``log`` call, nested dicts flattened as ``a.b``; the keys skipped."""
    values: Dict[str, float] = {}
    skipped: List[str] = []
    for raw_key, value in data.items():
        key = f"{prefix}{raw_key}"
        if isinstance(value, Mapping):
            nested, nested_skipped = _numbers(value, f"{key}.")
            values.update(nested)
            skipped.extend(nested_skipped)
            continue
        if hasattr(value, "item") and not isinstance(value, numbers.Number):
            try:
                value = value.item()  # numpy and torch scalars
            except Exception:
                pass
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            skipped.append(key)
            continue
        number = float(value)
        if not math.isfinite(number):
            skipped.append(key)
            continue
        values[key] = int(value) if isinstance(value, numbers.Integral) else number
    return values, skipped


def _metric_key(key: str) -> str:
    if METRIC_KEY_PATTERN.match(key):
        return key
    cleaned = "".join(c if c.isalnum() or c in "_./-" else "_" for c in key)[:128]
    if not cleaned or not (cleaned[0].isalnum() or cleaned[0] == "_"):
        cleaned = "_" + cleaned[:127]
    return cleaned


class Run:
    """A training or evaluation job. The versions it logs carry its id (outputs), the versions
    it uses are recorded as its inputs, and ``log`` records metrics on it."""

    def __init__(
        self,
        client: Client,
        project: str,
        run_id: str,
        name: Optional[str],
        config: Mapping[str, Any],
        job_type: Optional[str] = None,
        tags: Optional[Sequence[str]] = None,
        notes: Optional[str] = None,
        group: Optional[str] = None,
    ):
        self._client = client
        self.project = project
        self.id = run_id
        self.name = name
        self.entity: Optional[str] = None
        self.job_type = job_type
        self.tags = tuple(tags or ())
        self.notes = notes
        self.group = group
        self.config = Config(config)
        self._step = 0
        self._logged = 0  # values recorded so far: what tells Summary to read again
        self._pending: Dict[str, float] = {}
        self._buffer: List[dict] = []
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._finished = False
        self._flusher: Optional[threading.Thread] = None
        self._flush_lock = threading.Lock()
        self._warned: set = set()
        self._summary = Summary(self)
        self._saved_config = json.dumps(_json_safe(dict(self.config)), sort_keys=True)
        self._start()

    # Lifecycle ------------------------------------------------------------------------------

    def _start(self) -> None:
        body: Dict[str, Any] = {"id": self.id, "config": _json_safe(dict(self.config))}
        if self.name:
            body["name"] = self.name
        answer = self._client.api.post(f"/v1/projects{seg(self.project)}/runs", body)
        if self.name is None:
            self.name = answer.get("name")
        self._flusher = threading.Thread(target=self._flush_loop, name=f"mreg-metrics-{self.id}", daemon=True)
        self._flusher.start()

    def _fetch(self) -> dict:
        return self._client.api.get(f"/v1/projects{seg(self.project)}/runs{seg(self.id)}")

    @property
    def path(self) -> str:
        return f"{self.project}/{self.id}"

    @property
    def step(self) -> int:
        return self._step

    @property
    def summary(self) -> Summary:
        return self._summary

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, kind, error, traceback) -> None:
        self.finish(exit_code=0 if kind is None else 1)

    def finish(self, exit_code: Optional[int] = None, quiet: Optional[bool] = None) -> None:
        """Sends the metrics still buffered and the config's changes; the run object is done after."""
        if self._finished:
            return
        with self._lock:
            if self._pending:
                self._commit_pending()
            self._finished = True
            self._wake.notify_all()
        if self._flusher is not None:
            self._flusher.join()
        from . import _forget_run

        _forget_run(self)
        self._flush_metrics(raise_errors=True)
        config = json.dumps(_json_safe(dict(self.config)), sort_keys=True)
        if config != self._saved_config:
            self._client.api.post(f"/v1/projects{seg(self.project)}/runs", {"id": self.id, "config": json.loads(config)})
            self._saved_config = config

    # Metrics --------------------------------------------------------------------------------

    def log(self, data: Mapping[str, Any], step: Optional[int] = None, commit: Optional[bool] = None) -> None:
        """Records numeric values at a step, as W&B's ``run.log``: the step counts up by one per
        call unless ``step`` is given (a smaller step than the current one is ignored with a
        warning) or ``commit=False`` gathers values into the current step."""
        if not isinstance(data, Mapping):
            raise InvalidRequest("run.log takes a dict of metric names to values")
        if self._finished:
            raise InvalidRequest(f"run {self.path} is finished; start another with mreg.init")
        self._record(data, step=step, commit=commit, counted=True)

    def _record(self, data: Mapping[str, Any], step: Optional[int], commit: Optional[bool] = True, counted: bool = False) -> None:
        values, skipped = _numbers(data)
        for key in skipped:
            if key not in self._warned:
                self._warned.add(key)
                _warn(f"{key} is not a finite number; mreg records numbers only, so it was not logged")
        renamed = {}
        for key, value in values.items():
            clean = _metric_key(key)
            if clean != key and key not in self._warned:
                self._warned.add(key)
                _warn(f"metric {key!r} is recorded as {clean!r}")
            renamed[clean] = value
        with self._lock:
            self._logged += 1
            if not counted:
                if renamed:
                    self._append({"values": renamed})
                return
            if step is not None:
                if not isinstance(step, int) or step < 0:
                    raise InvalidRequest(f"step must be a non-negative integer, not {step!r}")
                if step < self._step:
                    _warn(f"step {step} is less than the current step {self._step}; these values were not logged")
                    return
                if step > self._step and self._pending:
                    self._commit_pending()
                self._step = step
            self._pending.update(renamed)
            if commit is not False:
                self._commit_pending()

    def _commit_pending(self) -> None:
        if self._pending:
            self._append({"step": self._step, "values": dict(self._pending)})
            self._pending = {}
        self._step += 1

    def _append(self, item: dict) -> None:
        self._buffer.append(item)
        if len(self._buffer) > MAX_BUFFERED_ITEMS:
            del self._buffer[: len(self._buffer) - MAX_BUFFERED_ITEMS]
            _warn(f"more than {MAX_BUFFERED_ITEMS} metric rows are waiting for the registry; the oldest were dropped")
        if len(self._buffer) >= MAX_ITEMS_PER_REQUEST:
            self._wake.notify_all()

    def _flush_loop(self) -> None:
        """Sends buffered metrics every second (or as soon as a request's worth is waiting), off the training loop."""
        while True:
            with self._lock:
                if not self._finished and len(self._buffer) < MAX_ITEMS_PER_REQUEST:
                    self._wake.wait(FLUSH_SECONDS)
                if self._finished:
                    return
            self._flush_metrics(raise_errors=False)

    def _flush_metrics(self, raise_errors: bool) -> None:
        with self._flush_lock:
            while True:
                with self._lock:
                    batch = _take_batch(self._buffer)
                if not batch:
                    return
                try:
                    self._client.api.post(f"/v1/projects{seg(self.project)}/runs{seg(self.id)}/metrics", {"items": batch})
                except MregError as error:
                    with self._lock:
                        self._buffer[:0] = batch
                    if raise_errors:
                        raise
                    if "flush" not in self._warned:
                        self._warned.add("flush")
                        _warn(f"metrics of run {self.path} are not reaching the registry yet ({error}); they are kept and retried")
                    return

    # Artifacts ------------------------------------------------------------------------------

    def log_artifact(
        self,
        artifact_or_path: Union[Artifact, str, os.PathLike],
        name: Optional[str] = None,
        type: Optional[str] = None,
        aliases: Optional[Sequence[str]] = None,
        tags: Optional[Sequence[str]] = None,
        metadata: Optional[dict] = None,
        description: Optional[str] = None,
    ) -> Artifact:
        """Logs a file, a directory or an Artifact as a version of this run (identical content:
        the existing version, ``created`` False); answers the logged Artifact."""
        if isinstance(artifact_or_path, Artifact):
            artifact = artifact_or_path
            if name:
                artifact.name = name
            if type:
                artifact.type = type
        else:
            path = os.fspath(artifact_or_path)
            if isinstance(path, str) and path.startswith("s3://"):
                artifact = Artifact(name or safe_name(f"run-{self.id}-{path.rstrip('/').rsplit('/', 1)[-1]}"), type or "unspecified")
                artifact.add_reference(path)
            else:
                artifact = Artifact(name or default_name(self.id, path), type or "unspecified")
                artifact.add(path)
        if metadata:
            artifact.metadata.update(metadata)
        if description is not None:
            artifact.description = description
        return self._log(artifact, list(aliases or []))

    def _log(self, artifact: Artifact, aliases: List[str], references: Optional[List[Tuple[str, str]]] = None) -> Artifact:
        aliases = _without_latest(aliases)
        for alias in aliases:
            check_alias(alias)
        client = self._client
        result = client.engine.log_files(
            project=self.project,
            name=check_name(artifact.name, "artifact name"),
            files=artifact._local_files(),
            type=artifact.type,
            references=artifact._reference_entries(),
            aliases=aliases,
            metadata=artifact.metadata or None,
            description=artifact.description,
            run_id=self.id,
            progress=client.progress(),
        )
        artifact.project = result.project
        artifact.version = result.version
        artifact.index = result.index
        artifact.digest = result.digest
        artifact.created = result.created
        artifact.aliases = list(result.aliases)
        artifact.size = result.size
        artifact.file_count = result.files
        artifact.stats = result.stats
        artifact.source = {"project": result.project, "artifact": result.artifact, "version": result.version}
        artifact.run_id = self.id if result.created else None
        artifact._client = client
        artifact._ref = parse_ref(f"{result.project}/{result.artifact}:{result.version}")
        return artifact

    def log_model(
        self,
        path: Union[str, os.PathLike],
        name: Optional[str] = None,
        aliases: Optional[Sequence[str]] = None,
        metadata: Optional[dict] = None,
        description: Optional[str] = None,
    ) -> Artifact:
        """Logs a checkpoint file or directory as a `model` version (name: the path's base name prefixed with the run id)."""
        return self.log_artifact(path, name=name, type="model", aliases=aliases, metadata=metadata, description=description)

    def use_artifact(self, artifact_or_name: Union[Artifact, str], type: Optional[str] = None, aliases: Optional[Sequence[str]] = None) -> Artifact:
        """Resolves a version (``name:alias`` in this run's project, ``project/name:v3``,
        ``@registry/collection:alias``, ``<org>/wandb-registry-<registry>/<collection>:alias``),
        records it as this run's input and answers it; ``.download()`` fetches its files."""
        if isinstance(artifact_or_name, Artifact):
            artifact_or_name._require_remote()
            ref = artifact_or_name._ref
        else:
            ref = parse_ref(artifact_or_name, default_project=self.project)
        resolved = resolve(self._client.api, ref)
        source = resolved.source
        self._client.api.post(
            f"/v1/projects{seg(self.project)}/runs{seg(self.id)}/inputs",
            {"project": source["project"], "artifact": source["artifact"], "version": source["version"]},
        )
        artifact = from_version(self._client, resolved.ref, resolved.version, source)
        if type is not None and artifact.type != type:
            raise InvalidRequest(f"{resolved.ref} is of type {artifact.type}, not {type}")
        return artifact

    def use_model(self, name: str, root: Optional[str] = None) -> str:
        """Resolves, records as this run's input, downloads what is not already local; answers the directory."""
        return self.use_artifact(name).download(root)

    def link_artifact(self, artifact: Union[Artifact, str], target_path: str, aliases: Optional[Sequence[str]] = None) -> LinkedVersion:
        """Links a logged version into a registry collection (created on first link; linking
        the same version again answers the first link). ``target_path`` is ``@registry/collection``
        or W&B's ``<org>/wandb-registry-<registry>/<collection>``."""
        registry, collection = parse_link_target(target_path)
        if isinstance(artifact, str):
            artifact = self.use_artifact(artifact)
        elif artifact.version is None:
            artifact = self._log(artifact, [])
        aliases = _without_latest(aliases or [])
        for alias in aliases:
            check_alias(alias)
        source = artifact.source or {"project": artifact.project, "artifact": artifact.name, "version": artifact.version}
        body: Dict[str, Any] = {"project": source["project"], "artifact": source["artifact"], "version": source["version"]}
        if aliases:
            body["aliases"] = list(aliases)
        answer = self._client.api.post(f"/v1/registries{seg(registry)}/collections{seg(collection)}/links", body)
        return LinkedVersion(registry, collection, answer, artifact)

    def link_model(
        self,
        path: Union[str, os.PathLike],
        registered_model_name: str,
        name: Optional[str] = None,
        aliases: Optional[Sequence[str]] = None,
    ) -> LinkedVersion:
        """Logs (or reuses) the model version and links it into the `model` registry's
        collection ``registered_model_name``, creating it on first link."""
        logged = self.log_model(path, name=name)
        return self.link_artifact(logged, f"@model/{registered_model_name}", aliases=aliases)

    def __repr__(self) -> str:
        return f"<Run {self.path}{' finished' if self._finished else ''}>"


def _take_batch(buffer: List[dict]) -> List[dict]:
    """The longest prefix of the buffer that one request takes: ≤ 1000 rows, ≤ 100 distinct keys."""
    keys: set = set()
    taken = 0
    for item in buffer[:MAX_ITEMS_PER_REQUEST]:
        added = set(item["values"]) - keys
        if len(keys) + len(added) > MAX_KEYS_PER_REQUEST:
            if taken == 0:
                # One row with more keys than a request takes: split it.
                row_keys = list(item["values"])
                first = {k: item["values"][k] for k in row_keys[:MAX_KEYS_PER_REQUEST]}
                rest = {k: item["values"][k] for k in row_keys[MAX_KEYS_PER_REQUEST:]}
                head = {**item, "values": first}
                buffer[0] = {**item, "values": rest}
                return [head]
            break
        keys |= added
        taken += 1
    batch = buffer[:taken]
    del buffer[:taken]
    return batch


def new_run(
    client: Client,
    project: Optional[str],
    name: Optional[str],
    config: Any,
    run_id: Optional[str],
    job_type: Optional[str],
    tags: Optional[Sequence[str]],
    notes: Optional[str],
    group: Optional[str],
) -> Run:
    project = project or os.environ.get("MREG_PROJECT") or os.environ.get("WANDB_PROJECT") or DEFAULT_PROJECT
    check_name(project, "project")
    run_id = run_id or os.environ.get("MREG_RUN_ID") or _generated_id()
    check_name(run_id, "run id")
    if config is None:
        config = {}
    elif not isinstance(config, Mapping):
        # argparse.Namespace and the like, as W&B takes them.
        config = dict(vars(config))
    return Run(client, project, run_id, name, config, job_type, tags, notes, group)


def _without_latest(aliases: Sequence[str]) -> List[str]:
    """W&B scripts often ask for ``latest``, which W&B (and the registry) move by themselves;
    the registry refuses it by hand, so it is left out here rather than failing the script."""
    return [alias for alias in aliases if alias != "latest"]
