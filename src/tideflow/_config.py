"""Configuration: an explicit, immutable object, built when needed and passed down.

Nothing here runs at import time. :func:`load_config` reads the environment when it is
called, so two runners in one process can use different settings.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from ._exceptions import TideflowError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = (
    "ROOT_DIRNAME",
    "Config",
    "account_name",
    "find_root",
    "load_config",
    "locate_root",
    "resolve_username",
    "store_settings",
)

#: Name of the folder that holds a project's runs.
ROOT_DIRNAME = ".tideflow"


class Config(msgspec.Struct, frozen=True, kw_only=True):
    """Settings for one runner, CLI invocation or client.

    ``root`` is the store folder itself (the ``.tideflow`` folder); ``None`` means: find
    it from the working directory when it is used.
    """

    root: str | None = None
    #: Where run metadata lives: ``None`` for the SQLite database in the store root, else a
    #: URL such as ``sqlite:///path/metadata.db`` or ``postgresql://user@host/db``.
    metadata_url: str | None = None
    #: Where artifacts and task logs live: ``None`` for the store root's folders, else a URL
    #: such as ``file:///path/to/store`` or ``s3://bucket/prefix``.
    datastore_url: str | None = None
    username: str | None = None
    #: How task processes start: ``fork`` (a warm host per flow forks each task; POSIX
    #: only), ``spawn`` (a fresh interpreter per task) or ``dask`` (each task on a
    #: dask.distributed cluster).
    executor: str = "fork" if os.name == "posix" else "spawn"
    #: The Dask scheduler of the ``dask`` executor (``tcp://host:port``); ``None``: a
    #: temporary local cluster.
    dask_address: str | None = None
    max_workers: int = 16
    max_num_splits: int = 100
    #: How often a running supervisor renews its lease on a run, in seconds.
    heartbeat_interval: float = 5.0
    #: A run whose lease is older than this many seconds is reported as crashed.
    heartbeat_timeout: float = 30.0
    #: Grace period between SIGTERM and SIGKILL when stopping a task, in seconds.
    kill_grace: float = 2.0
    #: Most task processes running at once across all runs of one event loop's supervisor;
    #: ``None``: from the machine's cores. The loop's first run sets it; a later run that
    #: asks for another value is refused.
    task_limit: int | None = None
    #: Seconds a fork host stays warm once no run uses it (0: it exits at once). The
    #: latest run that sets it changes it for every host of the supervisor.
    host_idle_timeout: float = 2.0


def load_config(env: Mapping[str, str] | None = None, **overrides: object) -> Config:
    """Build a :class:`Config` from the environment (``TIDEFLOW_*`` variables) and overrides."""
    env = os.environ if env is None else env
    values: dict[str, object] = {}
    root, metadata_url, datastore_url = store_settings(env)
    if root:
        values["root"] = root
    if user := env.get("TIDEFLOW_USER"):
        values["username"] = user
    if metadata_url:
        values["metadata_url"] = metadata_url
    if datastore_url:
        values["datastore_url"] = datastore_url
    if executor := env.get("TIDEFLOW_EXECUTOR"):
        values["executor"] = executor
    if address := env.get("TIDEFLOW_DASK_ADDRESS"):
        values["dask_address"] = address
    if limit := env.get("TIDEFLOW_TASK_LIMIT"):
        try:
            values["task_limit"] = int(limit)
        except ValueError:
            raise TideflowError(
                f"TIDEFLOW_TASK_LIMIT must be an integer, got {limit!r}."
            ) from None
    for name, field in (
        ("TIDEFLOW_HEARTBEAT_INTERVAL", "heartbeat_interval"),
        ("TIDEFLOW_HEARTBEAT_TIMEOUT", "heartbeat_timeout"),
        ("TIDEFLOW_HOST_IDLE_TIMEOUT", "host_idle_timeout"),
    ):
        if text := env.get(name):
            try:
                values[field] = float(text)
            except ValueError:
                raise TideflowError(f"{name} must be a number, got {text!r}.") from None
    values.update({k: v for k, v in overrides.items() if v is not None})
    task_limit = values.get("task_limit")
    if isinstance(task_limit, int) and task_limit < 1:
        raise ValueError(f"task_limit must be at least 1, got {task_limit}.")
    idle = values.get("host_idle_timeout")
    if isinstance(idle, (int, float)) and not idle >= 0:
        raise ValueError(f"host_idle_timeout must be a number of seconds >= 0, got {idle}.")
    return msgspec.convert(values, Config)


def store_settings(
    env: Mapping[str, str] | None = None,
) -> tuple[str | None, str | None, str | None]:
    """Return the settings of the environment that choose the stores, as
    :func:`load_config` reads them (``None`` when unset or empty): ``TIDEFLOW_ROOT``,
    ``TIDEFLOW_METADATA_URL`` and ``TIDEFLOW_DATASTORE_URL``.

    A client reading many objects asks for these alone, which costs a few dictionary
    lookups instead of building a whole :class:`Config`.
    """
    env = os.environ if env is None else env
    return (
        env.get("TIDEFLOW_ROOT") or None,
        env.get("TIDEFLOW_METADATA_URL") or None,
        env.get("TIDEFLOW_DATASTORE_URL") or None,
    )


def find_root(config: Config, cwd: str | os.PathLike[str] | None = None) -> Path:
    """Return the store folder: the configured one, else ``.tideflow`` in ``cwd`` or a parent.

    When none exists, the folder is ``.tideflow`` in ``cwd`` (created by the stores on first
    write). The answer is computed on every call, never cached.
    """
    return locate_root(config.root, cwd)


def locate_root(root: str | None, cwd: str | os.PathLike[str] | None = None) -> Path:
    """Return the store folder ``root`` names, else as :func:`find_root` finds it."""
    if root is not None:
        return Path(root).expanduser().absolute()
    start = Path(cwd if cwd is not None else os.getcwd()).absolute()
    for folder in (start, *start.parents):
        candidate = folder / ROOT_DIRNAME
        if candidate.is_dir():
            return candidate
    return start / ROOT_DIRNAME


def resolve_username(
    config: Config | None,
    env: Mapping[str, str] | None = None,
    *,
    account: Callable[[], str | None] | None = None,
) -> str:
    """Return the user name.

    From configuration, else ``TIDEFLOW_USER``, ``USER``, ``LOGNAME``, ``USERNAME``, else
    the account database (so a container without those variables still works).

    :param config: the configuration (``None``: the environment alone).
    :param account: how to look the account's name up (default: :func:`account_name`; the
        client passes one that remembers the answer).
    """
    if config is not None and config.username:
        return config.username
    env = os.environ if env is None else env
    for name in ("TIDEFLOW_USER", "USER", "LOGNAME", "USERNAME"):
        if value := env.get(name):
            return value
    if found := (account or account_name)():
        return found
    raise TideflowError(
        "Cannot tell who is running this flow: set the TIDEFLOW_USER environment variable "
        "(or USER), or pass a username in the configuration."
    )


def account_name() -> str | None:
    """Return the name of this process's user account, or ``None`` where there is none
    (no account database, or the user id is not in it)."""
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError, AttributeError):
        return None
