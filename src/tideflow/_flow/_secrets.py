"""``@secrets``: secrets fetched in the task process and given to the step as env variables.

``@secrets(sources=[...])`` names where the secrets come from. Each source is a dict
``{"type": ..., "id": ..., "options": {...}}`` or a string: ``"TYPE:ID"`` when ``TYPE`` is
a known provider, else an id for the provider named by
``TIDEFLOW_DEFAULT_SECRETS_BACKEND_TYPE``. Two local providers come with tideflow:

``env``
    ``id`` is a prefix: every variable ``<prefix>KEY`` of the run's environment becomes
    ``KEY`` in the step (``"env:PROD_DB_"`` turns ``PROD_DB_PASSWORD`` into ``PASSWORD``).
``file``
    ``id`` is the path of a JSON object or of a ``KEY=VALUE`` (dotenv) file, relative to the
    run's working folder.

Other secret managers plug in as :class:`SecretsProvider` classes published under the
``tideflow.secrets_providers`` entry-point group (the entry point's name is the type);
they are looked up when a task asks for their type, never at import.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from .._exceptions import SecretsError

__all__ = (
    "EnvSecretsProvider",
    "FileSecretsProvider",
    "SecretsError",
    "SecretsProvider",
    "fetch_secrets",
    "find_provider",
)

ENTRY_POINT_GROUP = "tideflow.secrets_providers"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@runtime_checkable
class SecretsProvider(Protocol):
    """Where secrets come from. ``TYPE`` names it in ``@secrets(sources=...)``."""

    TYPE: ClassVar[str]

    def get_secret_as_dict(
        self, secret_id: str, options: Mapping[str, Any], role: str | None = None
    ) -> Mapping[str, str]:
        """The secrets of ``secret_id``: variable names to values.

        :raises SecretsError: if the source cannot be read.
        """
        ...


class EnvSecretsProvider:
    """Secrets from the run's environment: ``<prefix>KEY`` becomes ``KEY``."""

    TYPE: ClassVar[str] = "env"

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def get_secret_as_dict(
        self, secret_id: str, options: Mapping[str, Any], role: str | None = None
    ) -> Mapping[str, str]:
        """Every variable starting with ``secret_id``, with the prefix taken off."""
        found = {
            name[len(secret_id) :]: value
            for name, value in self._environ.items()
            if name.startswith(secret_id) and len(name) > len(secret_id)
        }
        if not found:
            raise SecretsError(
                f"@secrets: no environment variable starts with '{secret_id}': set "
                f"{secret_id}<NAME> in the environment the run starts from."
            )
        return found


class FileSecretsProvider:
    """Secrets from a JSON object file or a ``KEY=VALUE`` file."""

    TYPE: ClassVar[str] = "file"

    def get_secret_as_dict(
        self, secret_id: str, options: Mapping[str, Any], role: str | None = None
    ) -> Mapping[str, str]:
        """The keys and values of the file ``secret_id``."""
        path = Path(secret_id).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SecretsError(
                f"@secrets: cannot read the secrets file {path.absolute()} ({exc.strerror})."
            ) from exc
        if text.lstrip().startswith("{"):
            try:
                data = json.loads(text)
            except ValueError as exc:
                raise SecretsError(f"@secrets: {path} is not valid JSON ({exc}).") from exc
            return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
        return _dotenv(text, path)


def _dotenv(text: str, path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, eq, value = line.removeprefix("export ").partition("=")
        if not eq:
            raise SecretsError(
                f"@secrets: line {number} of {path} is not KEY=VALUE (nor is the file JSON)."
            )
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


_BUILTIN: dict[str, type[Any]] = {"env": EnvSecretsProvider, "file": FileSecretsProvider}


def _plugins() -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def find_provider(kind: str) -> SecretsProvider:
    """The provider of type ``kind``: a built-in one or an installed plug-in.

    :raises SecretsError: if no provider has that type.
    """
    if kind in _BUILTIN:
        return _BUILTIN[kind]()  # type: ignore[no-any-return]
    plugin = _plugins().get(kind)
    if plugin is None:
        known = ", ".join(sorted({*_BUILTIN, *_plugins()}))
        raise SecretsError(
            f"@secrets: no secrets provider of type '{kind}'. Known types: {known}. Install "
            f"the package that provides it (entry-point group {ENTRY_POINT_GROUP})."
        )
    provider = plugin.load()()
    return provider  # type: ignore[no-any-return]


def _source(source: str | Mapping[str, Any], environ: Mapping[str, str]) -> tuple[str, str, Any]:
    if isinstance(source, Mapping):
        return str(source["type"]), str(source["id"]), dict(source.get("options") or {})
    kind, colon, rest = source.partition(":")
    if colon and (kind in _BUILTIN or kind in _plugins()):
        return kind, rest, {}
    default = environ.get("TIDEFLOW_DEFAULT_SECRETS_BACKEND_TYPE")
    if not default:
        raise SecretsError(
            f"@secrets: the source {source!r} names no provider: write 'TYPE:ID' (as in "
            "'env:DB_' or 'file:secrets.json'), or set TIDEFLOW_DEFAULT_SECRETS_BACKEND_TYPE."
        )
    return default, source, {}


def fetch_secrets(
    sources: Sequence[str | Mapping[str, Any]],
    role: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Read every source; return the variables to set.

    :raises SecretsError: for an unknown provider, a failing source, a malformed name, or
        a variable given by two sources.
    """
    env = os.environ if environ is None else environ
    found: dict[str, str] = {}
    origin: dict[str, str] = {}
    for source in sources:
        kind, secret_id, options = _source(source, env)
        provider = find_provider(kind)
        if kind == "env" and environ is not None:
            provider = EnvSecretsProvider(environ)
        values = provider.get_secret_as_dict(secret_id, options, role)
        for key, value in values.items():
            if not _ENV_NAME.match(key):
                raise SecretsError(
                    f"@secrets: {kind}:{secret_id} gives the key {key!r}, which is not a "
                    "valid environment variable name."
                )
            if key in found:
                raise SecretsError(
                    f"@secrets: the variable {key} comes from two sources ({origin[key]} and "
                    f"{kind}:{secret_id}): give each secret one source."
                )
            found[key] = str(value)
            origin[key] = f"{kind}:{secret_id}"
    return found
