"""References, in the Node CLI's forms and W&B's.

- ``project/artifact[:version]``, ``artifact[:version]`` (the run's project), and W&B's
  ``entity/project/artifact[:version]`` (one organization here: the entity is ignored);
- ``@registry/collection[:version]``, W&B Registry's ``<org>/wandb-registry-<registry>/<collection>[:version]``
  and the legacy model registry's ``<entity>/model-registry/<name>[:version]`` (the ``model`` registry).

A version is ``v3``, ``3``, an alias or ``latest``.
"""

import re
from dataclasses import dataclass
from typing import Optional, Tuple

from .errors import InvalidRequest

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
VERSION_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
REGISTRY_PREFIX = "wandb-registry-"
LEGACY_MODEL_REGISTRY = "model-registry"


def check_name(value: str, what: str) -> str:
    if not isinstance(value, str) or not NAME_PATTERN.match(value):
        raise InvalidRequest(f"invalid {what} {value!r}: use 1 to 128 letters, digits, '.', '_' and '-', starting with a letter or digit")
    return value


def check_alias(value: str) -> str:
    check_name(value, "alias")
    if re.match(r"^v?\d+$", value):
        raise InvalidRequest(f"invalid alias {value!r}: it must not look like a version number")
    return value


def safe_name(value: str) -> str:
    """A name the registry accepts, made from a file name or a W&B-style generated one."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "-", value).lstrip("._-")[:128]
    return cleaned or "artifact"


@dataclass(frozen=True)
class Ref:
    kind: str  # "artifact" or "collection"
    scope: str  # project or registry
    name: str  # artifact or collection
    version: Optional[str] = None

    @property
    def base_path(self) -> str:
        from ._api import seg

        if self.kind == "artifact":
            return f"/v1/projects{seg(self.scope)}/artifacts{seg(self.name)}"
        return f"/v1/registries{seg(self.scope)}/collections{seg(self.name)}"

    def __str__(self) -> str:
        head = f"{self.scope}/{self.name}" if self.kind == "artifact" else f"@{self.scope}/{self.name}"
        return head if self.version is None else f"{head}:{self.version}"

    def with_version(self, version: str) -> "Ref":
        return Ref(self.kind, self.scope, self.name, version)


def _split_version(text: str) -> Tuple[str, Optional[str]]:
    path, sep, version = text.partition(":")
    if not sep:
        return path, None
    if not VERSION_PATTERN.match(version):
        raise InvalidRequest(f"invalid version {version!r} in {text!r}: use v3, 3, an alias or latest")
    return path, version


def _usage(text: str) -> InvalidRequest:
    return InvalidRequest(
        f"invalid reference {text!r}: expected project/artifact[:version], @registry/collection[:version] "
        "or <org>/wandb-registry-<registry>/<collection>[:version]"
    )


def parse_ref(text: str, default_project: Optional[str] = None) -> Ref:
    if not isinstance(text, str) or not text:
        raise _usage(str(text))
    path, version = _split_version(text[1:] if text.startswith("@") else text)
    segments = path.split("/")
    if text.startswith("@"):
        if len(segments) != 2:
            raise _usage(text)
        registry, collection = segments
        return Ref("collection", check_name(registry, "registry"), check_name(collection, "collection"), version)
    for i, segment in enumerate(segments[:-1]):
        if segment.startswith(REGISTRY_PREFIX) and i == len(segments) - 2:
            registry = segment[len(REGISTRY_PREFIX) :]
            return Ref("collection", check_name(registry, "registry"), check_name(segments[-1], "collection"), version)
        if segment == LEGACY_MODEL_REGISTRY and i == len(segments) - 2:
            return Ref("collection", "model", check_name(segments[-1], "registered model"), version)
    if len(segments) == 1:
        if default_project is None:
            raise _usage(text)
        return Ref("artifact", default_project, check_name(segments[0], "artifact name"), version)
    if len(segments) in (2, 3):
        project, artifact = segments[-2], segments[-1]
        return Ref("artifact", check_name(project, "project"), check_name(artifact, "artifact name"), version)
    raise _usage(text)


def parse_link_target(text: str) -> Tuple[str, str]:
    """Where ``link_artifact`` puts a version: ``@registry/collection``, ``registry/collection``,
    ``<org>/wandb-registry-<registry>/<collection>`` or ``<entity>/model-registry/<name>``."""
    if not isinstance(text, str) or not text:
        raise InvalidRequest(f"invalid link target {text!r}")
    if ":" in text:
        raise InvalidRequest(f"invalid link target {text!r}: a target names a collection, not a version")
    body = text[1:] if text.startswith("@") else text
    segments = body.split("/")
    for i, segment in enumerate(segments[:-1]):
        if segment.startswith(REGISTRY_PREFIX) and i == len(segments) - 2:
            return check_name(segment[len(REGISTRY_PREFIX) :], "registry"), check_name(segments[-1], "collection")
        if segment == LEGACY_MODEL_REGISTRY and i == len(segments) - 2:
            return "model", check_name(segments[-1], "registered model")
    if len(segments) == 2:
        return check_name(segments[0], "registry"), check_name(segments[1], "collection")
    raise InvalidRequest(
        f"invalid link target {text!r}: expected @registry/collection or <org>/wandb-registry-<registry>/<collection>"
    )

METRIC_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]{0,127}$")
