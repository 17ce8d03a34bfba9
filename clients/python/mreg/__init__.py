"""mreg: log, link and use model and dataset versions from training jobs, with W&B's run API.

    import mreg as wandb

    run = wandb.init(project="vision", config={"lr": 1e-3})
    run.log({"acc": 0.93})
    run.link_model(path="./model.pt", registered_model_name="mnist-classifier")
    run.finish()

Standard library only. Settings: MREG_URL and MREG_API_KEY (else the file ``mreg login``
saves), MREG_CACHE_DIR, MREG_RUN_ID, MREG_PROJECT, MREG_CONCURRENCY, MREG_SILENT.
"""

__version__ = "0.1.0"

import atexit
import sys
from typing import Any, Optional, Sequence

from . import errors
from ._artifact import Artifact
from ._client import Client, set_login
from ._public_api import Api, Collection, RunInfo
from ._run import Config, LinkedVersion, Run, Summary, new_run
from .errors import Conflict, InvalidRequest, MregError, NotFound, PermissionDenied, ServerError, TransferError

#: The current run (the last ``init`` not yet finished), as ``wandb.run``.
run: Optional[Run] = None
#: The current run's config, as ``wandb.config``.
config: Optional[Config] = None


def init(
    project: Optional[str] = None,
    entity: Optional[str] = None,
    name: Optional[str] = None,
    config: Any = None,
    job_type: Optional[str] = None,
    tags: Optional[Sequence[str]] = None,
    notes: Optional[str] = None,
    id: Optional[str] = None,
    group: Optional[str] = None,
    **ignored: Any,
) -> Run:
    """Starts a run: it is created in the registry (id from ``id``, else MREG_RUN_ID, else
    generated; starting an existing id again continues it). W&B's other keyword arguments
    (``entity``, ``reinit``, ``resume``, ``dir``, ``mode``, ``settings``, …) are accepted and
    ignored: there is one organization. Usable as a context manager."""
    if run is not None:
        # As W&B does by default: a new run in the same process finishes the previous one.
        run.finish()
    started = new_run(Client(), project, name, config, id, job_type, tags, notes, group)
    # `config` is also this function's parameter, hence globals().
    globals().update(run=started, config=started.config)
    return started


def _forget_run(finished: Run) -> None:
    global run, config
    if run is finished:
        run = None
        config = None


def _finish_at_exit() -> None:
    """A script that never calls finish still gets its buffered metrics sent, as with W&B."""
    if run is not None:
        try:
            run.finish()
        except MregError as error:
            print(f"mreg: could not finish run {run.path}: {error}", file=sys.stderr)


atexit.register(_finish_at_exit)


def _current() -> Run:
    if run is None:
        raise InvalidRequest("no run: call mreg.init() first")
    return run


def log(data, step: Optional[int] = None, commit: Optional[bool] = None) -> None:
    _current().log(data, step=step, commit=commit)


def finish(exit_code: Optional[int] = None, quiet: Optional[bool] = None) -> None:
    if run is not None:
        run.finish(exit_code=exit_code)


def log_artifact(artifact_or_path, name=None, type=None, aliases=None, **kwargs) -> Artifact:
    return _current().log_artifact(artifact_or_path, name=name, type=type, aliases=aliases, **kwargs)


def use_artifact(artifact_or_name, type=None, aliases=None) -> Artifact:
    return _current().use_artifact(artifact_or_name, type=type, aliases=aliases)


def log_model(path, name=None, aliases=None, **kwargs) -> Artifact:
    return _current().log_model(path, name=name, aliases=aliases, **kwargs)


def use_model(name: str) -> str:
    return _current().use_model(name)


def link_model(path, registered_model_name: str, name=None, aliases=None) -> LinkedVersion:
    return _current().link_model(path, registered_model_name, name=name, aliases=aliases)


def login(key: Optional[str] = None, host: Optional[str] = None, relogin: Optional[bool] = None, **ignored: Any) -> bool:
    """Uses ``key`` and ``host`` for the rest of this process (W&B's ``wandb.login``); checks them with the registry."""
    set_login(host, key)
    Client().api.get("/v1/me")
    return True


__all__ = [
    "Api",
    "Artifact",
    "Collection",
    "Config",
    "Conflict",
    "InvalidRequest",
    "LinkedVersion",
    "MregError",
    "NotFound",
    "PermissionDenied",
    "Run",
    "RunInfo",
    "ServerError",
    "Summary",
    "TransferError",
    "config",
    "errors",
    "finish",
    "init",
    "link_model",
    "log",
    "log_artifact",
    "log_model",
    "login",
    "run",
    "use_artifact",
    "use_model",
]
