"""Turning what a caller asked for (Runner kwargs, CLI options) into a checked RunRequest.

Every mistake is found here, before a run exists: an unknown option, a value of the wrong
type, a missing required parameter, an unknown decorator, a resume that cannot be done.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from .._config import Config, find_root, load_config, resolve_username
from .._flow._config import config_scope, configs_of, resolve_configs
from .._flow._decorators import StepDecorator, parse_decospec, resolve_decorator
from .._flow._includefile import IncludeFile
from .._flow._parameter import ParameterContext, resolve_parameters
from .._flow._project import check_project_options, project_info, project_tags
from .._metadata._tags import edit_user_tags
from .._stores._bundle import check_config_urls, check_url
from .._worker._executor import EXECUTOR_NAMES
from ._loader import LoadedFlow

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from .._flow._parameter import Parameter
    from ._resume import ResumeOrigin

__all__ = (
    "RESUME_OPTIONS",
    "RUN_OPTIONS",
    "TOP_LEVEL_OPTIONS",
    "RunRequest",
    "build_request",
    "check_top_level",
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunRequest:
    """A checked request to run a flow: everything the actor needs, nothing left to parse."""

    flow: LoadedFlow
    config: Config
    root: Path
    username: str
    parameters: dict[str, Any]
    tags: tuple[str, ...] = ()
    max_workers: int = 16
    max_num_splits: int = 100
    decospecs: tuple[StepDecorator, ...] = ()
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    cwd: str = "."
    run_id_file: str | None = None
    quiet: bool = False
    #: The namespace the run's steps see: ``user:<username>`` when not set, and the global
    #: namespace for ``""``.
    namespace: str | None = None
    #: Set for a resume: the run it resumes and the step to re-run from.
    origin_run_id: str | None = None
    step_to_rerun: str | None = None
    #: System tags the run gets besides the usual ones (``project:...`` of ``@project``).
    system_tags: tuple[str, ...] = ()
    #: For a resume: what the origin finished, as read when the request was checked (the
    #: run then clones it without reading the origin again).
    origin: "ResumeOrigin | None" = dataclasses.field(default=None, repr=False, compare=False)
    #: The top-level command-line options a resume of this run needs again (where its
    #: runs are stored, how its tasks run), as given: the failed run's resume hint.
    resume_options: tuple[str, ...] = ()


#: Options given to Runner(...) (the flow's top-level command-line options), with types.
TOP_LEVEL_OPTIONS: Mapping[str, Any] = {
    "decospecs": (list, tuple),
    "pylint": bool,
    "quiet": bool,
    "progress": bool,
    "metadata": str,
    "datastore": str,
    "environment": str,
    "executor": str,
    "dask_address": object,
    "task_limit": int,
    "host_idle_timeout": (int, float),
    "root": (str, os.PathLike),
    "metadata_url": str,
    "datastore_url": str,
    "username": str,
    "config": (dict, list, tuple),
    "config_value": (dict, list, tuple),
    "branch": str,
    "production": bool,
}

#: Options of run(...) besides the flow's parameters.
RUN_OPTIONS: Mapping[str, Any] = {
    "tags": (list, tuple, str),
    "max_workers": int,
    "max_num_splits": int,
    "run_id_file": (str, os.PathLike),
    "user_namespace": str,
}

#: Options of resume(...).
RESUME_OPTIONS: Mapping[str, Any] = {
    **RUN_OPTIONS,
    "origin_run_id": (str, int),
    "step_to_rerun": str,
}

_BACKENDS = {"metadata": ("local",), "datastore": ("local",), "environment": ("local",)}


def _type_name(kind: Any) -> str:
    names = [k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,))]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _check_type(where: str, name: str, value: Any, kind: Any) -> None:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        ok = False
    else:
        ok = isinstance(value, kinds)
    if not ok:
        raise TypeError(
            f"{where}: '{name}' must be {_type_name(kind)}, not {type(value).__name__} "
            f"({value!r})."
        )


def check_top_level(options: Mapping[str, Any]) -> dict[str, Any]:
    """Check Runner's top-level options; raise ValueError/TypeError naming the problem."""
    for name, value in options.items():
        if name not in TOP_LEVEL_OPTIONS:
            valid = ", ".join(sorted(TOP_LEVEL_OPTIONS))
            raise ValueError(f"Unknown option '{name}' for Runner(): valid options are {valid}.")
        if value is not None:
            _check_type("Runner()", name, value, TOP_LEVEL_OPTIONS[name])
        if name in _BACKENDS and value is not None and value not in _BACKENDS[name]:
            raise ValueError(
                f"Runner(): {name}={value!r} is not available; tideflow stores runs locally "
                f"(use {name}='local' or leave it out)."
            )
    if options.get("executor") not in (None, *EXECUTOR_NAMES):
        raise ValueError(
            f"Runner(): executor must be 'spawn', 'fork' or 'dask', not {options['executor']!r}."
        )
    if options.get("dask_address") is not None:
        from .._worker._dask_cluster import dask_address

        options = {**options, "dask_address": dask_address(options["dask_address"])}
    for kind in ("metadata", "datastore"):
        check_url(kind, options.get(f"{kind}_url"), f"Runner(): {kind}_url")
    return dict(options)


def _tags(what: str, value: Any, flow: str) -> tuple[str, ...]:
    tags = (value,) if isinstance(value, str) else tuple(value or ())
    for tag in tags:
        if not isinstance(tag, str):
            raise TypeError(f"{what}: tags are strings, not {type(tag).__name__}: {tag!r}.")
        if not tag or len(tag) > 500:
            raise ValueError(
                f"{what}: tags are non-empty strings of at most 500 characters; got {tag!r}."
            )
    # Too many tags: say so now, before a run exists.
    edit_user_tags(f"A new run of '{flow}'", frozenset(), frozenset(), add=tags)
    return tags


def _run_id_file(what: str, value: Any, workdir: str) -> str | None:
    """The ``run_id_file`` option, checked before the run is created: its folder exists
    and can be written to (so a bad path never leaves an empty run behind)."""
    if not value:
        return None
    path = Path(workdir, os.fspath(value))
    fix = "create the folder, or pass another path (--run-id-file, run_id_file=...)"
    if not path.parent.is_dir():
        raise ValueError(
            f"{what}: cannot write the run id to {path}: the folder {path.parent} does not "
            f"exist; {fix}."
        )
    if path.is_dir():
        raise ValueError(f"{what}: cannot write the run id to {path}: it is a folder; {fix}.")
    writable = os.access(path, os.W_OK) if path.exists() else os.access(path.parent, os.W_OK)
    if not writable:
        raise ValueError(f"{what}: cannot write the run id to {path}: permission denied; {fix}.")
    return str(os.fspath(value))


def decospecs(values: Sequence[str]) -> tuple[StepDecorator, ...]:
    """Parse ``--with`` specs."""
    return tuple(parse_decospec(str(value)) for value in values)


def _split_options(
    what: str, options: Mapping[str, Any], parameters: Mapping[str, Parameter], *, resume: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split ``options`` into parameter values (by name) and checked run options."""
    allowed = RESUME_OPTIONS if resume else RUN_OPTIONS
    by_name = {p.name: p for p in parameters.values()}
    given: dict[str, Any] = {}
    run_options: dict[str, Any] = {}
    for name, value in options.items():
        if name in allowed:
            if value is not None:
                _check_type(what, name, value, allowed[name])
            run_options[name] = value
        elif name in by_name and not resume:
            given[name] = value
        else:
            valid = ", ".join([*by_name] * (not resume) + sorted(allowed))
            raise ValueError(f"Unknown argument '{name}' for {what}: valid arguments are {valid}.")
    return given, run_options


def _at_least_one(what: str, name: str, run_options: Mapping[str, Any], default: int) -> int:
    value = run_options.get(name)
    number = default if value is None else value
    if number < 1:
        raise ValueError(f"{what}: {name} must be at least 1, got {number}.")
    return int(number)


def build_request(
    flow: LoadedFlow,
    *,
    top_level: Mapping[str, Any],
    options: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    resume: bool = False,
    from_text: bool = False,
    quiet: bool | None = None,
) -> RunRequest:
    """Check ``options`` (parameters and run options) and build the request.

    With ``from_text`` the parameter values are command-line strings; else Python values,
    type-checked (``TypeError``).
    """
    what = f"{flow.name}.{'resume' if resume else 'run'}()"
    parameters = flow.cls._tf_parameters()
    given, run_options = _split_options(what, options, parameters, resume=resume)
    full_env = {**os.environ, **(env or {})}
    workdir = str(Path(cwd or os.getcwd()).resolve())
    config = request_config(full_env, top_level)
    check_config_urls(config)
    username = resolve_username(config, full_env)
    context = ParameterContext(
        flow.name, username, [p.name for p in parameters.values()], cwd=workdir
    )
    branch, production = top_level.get("branch"), bool(top_level.get("production"))
    check_project_options(flow.cls, branch, production)
    values = (
        {} if resume else _values(flow, parameters, given, top_level, context, from_text, full_env)
    )
    max_workers = _at_least_one(what, "max_workers", run_options, config.max_workers)
    max_splits = _at_least_one(what, "max_num_splits", run_options, config.max_num_splits)
    origin = run_options.get("origin_run_id")
    run_id_file = run_options.get("run_id_file")
    user_namespace = run_options.get("user_namespace")
    request = RunRequest(
        flow=flow,
        config=config,
        root=find_root(config, workdir),
        username=username,
        parameters=values,
        tags=_tags(what, run_options.get("tags"), flow.name),
        max_workers=max_workers,
        max_num_splits=max_splits,
        decospecs=decospecs(top_level.get("decospecs") or ()),
        env=full_env,
        cwd=workdir,
        run_id_file=_run_id_file(what, run_id_file, workdir),
        quiet=bool(top_level.get("quiet")) if quiet is None else quiet,
        namespace=user_namespace,
        origin_run_id=str(origin) if origin is not None else ("" if resume else None),
        step_to_rerun=run_options.get("step_to_rerun"),
        resume_options=resume_options(top_level),
    )
    if resume:
        # Find the origin run and check it now, so that a bad resume fails before it starts.
        from ._resume import resolve_resume

        request = resolve_resume(request)
    return _finish(request, branch, production)


#: Top-level options given again to resume a run, by their command-line names: where the
#: runs are, how the tasks run, which project branch.
_RESUMED_OPTIONS = {
    "root": "--root",
    "metadata_url": "--metadata-url",
    "datastore_url": "--datastore-url",
    "executor": "--executor",
    "branch": "--branch",
}


def resume_options(top_level: Mapping[str, Any]) -> tuple[str, ...]:
    """The command-line form of the top-level options in ``top_level`` that a resume needs
    again (each given one, as given; ``--with`` for each added decorator)."""
    found: list[str] = []
    for key, option in _RESUMED_OPTIONS.items():
        if value := top_level.get(key):
            found += [option, str(value)]
    if top_level.get("production"):
        found.append("--production")
    for spec in top_level.get("decospecs") or ():
        found += ["--with", str(spec)]
    return tuple(found)


def request_config(env: Mapping[str, str], top_level: Mapping[str, Any]) -> Config:
    """The configuration of a run: the environment's ``TIDEFLOW_*`` settings, overridden
    by the top-level options (``Runner(..., executor=...)``, the command line's)."""
    return load_config(
        env,
        root=str(top_level["root"]) if top_level.get("root") else None,
        username=top_level.get("username"),
        executor=top_level.get("executor"),
        dask_address=top_level.get("dask_address"),
        task_limit=top_level.get("task_limit"),
        metadata_url=top_level.get("metadata_url"),
        datastore_url=top_level.get("datastore_url"),
        host_idle_timeout=top_level.get("host_idle_timeout"),
    )


def _values(
    flow: LoadedFlow,
    parameters: Mapping[str, Parameter],
    given: dict[str, Any],
    top_level: Mapping[str, Any],
    context: ParameterContext,
    from_text: bool,
    env: Mapping[str, str],
) -> dict[str, Any]:
    """The run's values: its configurations first (parameter defaults may use them), then
    its parameters (an IncludeFile's path is read relative to the run's folder)."""
    configs = configs_of(flow.cls)
    config_values = resolve_configs(
        configs,
        files=top_level.get("config"),
        values=top_level.get("config_value"),
        context=context,
        cwd=context.cwd or ".",
        flow_dir=str(Path(flow.source).parent) if flow.source.endswith(".py") else None,
    )
    context.configs = config_scope(configs, config_values)
    for parameter in parameters.values():
        path = given.get(parameter.name)
        if isinstance(parameter, IncludeFile) and isinstance(path, (str, os.PathLike)):
            given[parameter.name] = os.path.join(context.cwd or ".", os.fspath(path))
    values = resolve_parameters(parameters, given, from_text=from_text, context=context, env=env)
    return {**values, **config_values}


def _finish(request: RunRequest, branch: str | None, production: bool) -> RunRequest:
    """The request with what its configurations decide: the decorator arguments of its
    graph, and its project (and so its project tags)."""
    configs = configs_of(request.flow.cls)
    scope = config_scope(configs, request.parameters)
    project = project_info(request.flow.cls, request.username, branch, production, scope)
    changes: dict[str, Any] = {"system_tags": project_tags(project)}
    if configs:
        graph = request.flow.graph.with_decorators(lambda d: resolve_decorator(d, scope))
        changes["flow"] = msgspec.structs.replace(request.flow, graph=graph)
    return dataclasses.replace(request, **changes)
