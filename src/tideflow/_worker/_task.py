"""Run one task attempt inside a worker process: load the flow, run the step, store artifacts.

Synchronous and free of event loops, so that both the ``spawn`` worker and a forking host
can call :func:`execute`.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import linecache
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from .._cards._context import card_collector
from .._datastore._artifacts import dumps, load, loads
from .._exceptions import FlowDefinitionError, TideflowError
from .._flow._config import config_scope, configs_of
from .._flow._current import ParallelInfo, TaskInfo, task_info
from .._flow._decorators import (
    StepDecorator,
    parse_decospec,
    resolve_decorator,
    with_decospecs,
)
from .._flow._file_spec import flow_file_spec
from .._flow._project import project_from_tags
from .._flow._spec import FlowSpec, Inputs
from .._messages import ArtifactRef, ErrorInfo, TaskDone, TaskSpec
from .._stores._bundle import open_datastore

if TYPE_CHECKING:
    from .._cards._task import TaskCards
    from .._flow._graph import StepNode
    from .._stores._interfaces import BlobStore

__all__ = ("execute", "load_flow_class", "rehearse")


def load_flow_class(
    flow_source: str, flow_class: str, sys_path: Sequence[str] = ()
) -> type[FlowSpec]:
    """Import the flow class from a file path or a ``module:Class`` reference."""
    for entry in reversed(sys_path):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    module_ref, colon, _ = flow_source.partition(":")
    if colon and not flow_source.endswith(".py"):
        module = importlib.import_module(module_ref)
    else:
        path = Path(flow_source).resolve()
        name = path.stem
        known = sys.modules.get(name)
        if known is not None and getattr(known, "__file__", None) == str(path):
            module = known
        else:
            if str(path.parent) not in sys.path:
                sys.path.insert(0, str(path.parent))
            spec = flow_file_spec(name, path)
            if spec is None or spec.loader is None:
                raise FlowDefinitionError(f"Cannot import the flow file {path}.", file=str(path))
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
    cls = getattr(module, flow_class, None)
    if not (isinstance(cls, type) and issubclass(cls, FlowSpec)):
        raise FlowDefinitionError(f"{flow_source} defines no flow class named {flow_class}.")
    return cls


class _TaskArtifacts:
    """The artifacts of one input task, loaded from the blob store on first use."""

    def __init__(self, blobs: BlobStore, artifacts: list[ArtifactRef]) -> None:
        self._blobs = blobs
        self._artifacts = {ref.name: ref for ref in artifacts}

    def names(self) -> Sequence[str]:
        return list(self._artifacts)

    def sha(self, name: str) -> str:
        return self._artifacts[name].sha

    def load(self, name: str) -> Any:
        return load(self._blobs, self._artifacts[name].sha, name)


_PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)


def _user_traceback(exc: BaseException) -> str:
    """The traceback without the leading frames of tideflow's own task machinery.

    An error tideflow raises after the step returned (no ``self.next()``, a foreach over too
    many items) has no frame of the user's code: its traceback points at the user's step,
    where :func:`_at_step` says.
    """
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        if tb.tb_next is None:
            break
        tb = tb.tb_next
    where = exc.__dict__.get("_tf_step_location")
    if where is not None and (
        tb is None or tb.tb_frame.f_code.co_filename.startswith(_PACKAGE_DIR)
    ):
        file, line, name = where
        source = linecache.getline(file, line).strip()
        return (
            f'Traceback (most recent call last):\n  File "{file}", line {line}, in {name}\n'
            + (f"    {source}\n" if source else "")
            + "".join(traceback.format_exception_only(type(exc), exc))
        )
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _at_step(exc: TideflowError, node: StepNode, line: int) -> TideflowError:
    """``exc``, marked as found at ``line`` of the user's step ``node`` (for its traceback)."""
    exc.__dict__["_tf_step_location"] = (node.file, line or node.line, node.name)
    return exc


def _error(exc: BaseException) -> ErrorInfo:
    return ErrorInfo(
        type=f"{type(exc).__module__}.{type(exc).__qualname__}".removeprefix("builtins."),
        message=str(exc),
        traceback=_user_traceback(exc),
    )


def execute(spec: TaskSpec, cls: type[FlowSpec] | None = None) -> TaskDone:
    """Run the step of ``spec`` and return its outcome; exceptions become a failed outcome."""
    try:
        if cls is None:
            cls = load_flow_class(spec.flow_source, spec.flow_class, spec.sys_path)
        return _run(spec, cls)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 (every failure is reported)
        error = _error(exc)
        sys.stderr.write(error.traceback)
        sys.stderr.flush()
        return TaskDone(ok=False, error=error)


def rehearse(spec: TaskSpec, cls: type[FlowSpec] | None) -> TaskDone | None:
    """Go through what a task of ``spec`` does around its step, without running the step,
    user code or any I/O; return the report such a task could send (for the caller to
    encode), or ``None`` when there is nothing to rehearse.

    A fork host does this once per step, so that its children inherit warm caches (type
    information of the encoders, resolved decorators' machinery), and a spare child does it
    while it waits, so that the pages a task touches are already its own: on a virtual
    machine each copy-on-write fault costs microseconds, hundreds of them per task.
    """
    if cls is None:
        return None
    try:
        node = cls._tf_graph()[spec.step]
        if spec.datastore_url is None:  # a local store: opening it is building paths
            open_datastore(None, root=Path(spec.root))
        if not configs_of(cls):  # no Config: resolving decorators runs no user code
            _task_decorators(cls, node, spec)
        _task_info(cls, spec, node)
        flow = cls._tf_for_task(step=spec.step, parameters=spec.parameters, source=None)
        data = dumps(flow.__dict__["_tf_transition"], "_rehearsal")
        sha = hashlib.sha256(data).hexdigest()
        return TaskDone(ok=True, artifacts=[ArtifactRef("_rehearsal", sha, len(data))])
    except Exception:  # noqa: BLE001 - a rehearsal is only a warm-up
        return None


def _run(spec: TaskSpec, cls: type[FlowSpec]) -> TaskDone:
    graph = cls._tf_graph()
    node = graph[spec.step]
    blobs, _ = open_datastore(spec.datastore_url, root=Path(spec.root))
    sources = [_TaskArtifacts(blobs, task.artifacts) for task in spec.inputs]
    item_value = _item_getter(blobs, spec)

    def bind(step: str, source: _TaskArtifacts | None) -> FlowSpec:
        return cls._tf_for_task(
            step=step,
            parameters=spec.parameters,
            source=source,
            stack=spec.stack,
            item_value=item_value,
        )

    func = getattr(cls, spec.step)
    decorators = _task_decorators(cls, node, spec)
    flow = bind(spec.step, None if node.is_join else (sources[0] if sources else None))
    cards = _open_cards(spec, decorators, cls, lambda: flow, blobs)
    token = task_info.set(_task_info(cls, spec, node))
    card_token = card_collector.set(cards.collector if cards is not None else None)
    ok = False
    try:
        _apply_secrets(decorators)
        with _deadline(spec.timeout):
            if node.is_join:
                flows = [bind(t.step, s) for t, s in zip(spec.inputs, sources, strict=True)]
                func(flow, Inputs(flows))
            else:
                func(flow)
        ok = True
    except (Exception, SystemExit, StepTimedOut) as exc:  # noqa: BLE001 (all are reported)
        error = _error(exc)
        if isinstance(exc, StepTimedOut):
            error = msgspec.structs.replace(error, timed_out=True)
        sys.stderr.write(error.traceback)
        sys.stderr.flush()
        return TaskDone(ok=False, error=error, artifacts=_persist_failed(flow, node, spec, blobs))
    finally:
        if cards is not None:
            cards.finish(ok)
        card_collector.reset(card_token)
        task_info.reset(token)
    transition = _check_transition(flow, node, spec)
    if spec.catch_var and spec.catch_var not in flow.__dict__:
        flow.__dict__[spec.catch_var] = None  # @catch(var=...): no failure to hold
    artifacts = _persist(flow, node, spec, blobs)
    return TaskDone(ok=True, artifacts=artifacts, transition=transition)


def _task_info(cls: type[FlowSpec], spec: TaskSpec, node: StepNode) -> TaskInfo:
    configs = configs_of(cls)
    project = project_from_tags(spec.flow_name, tuple(spec.tags))
    return TaskInfo(
        flow_name=spec.flow_name,
        run_id=spec.run_id,
        step_name=spec.step,
        task_id=spec.task_id,
        retry_count=spec.attempt,
        origin_run_id=spec.origin_run_id,
        username=spec.username,
        namespace=spec.namespace,
        tags=tuple(spec.tags),
        parameter_names=tuple(name for name in spec.parameters if name not in configs),
        project_name=project.project_name if project else None,
        branch_name=project.branch_name if project else None,
        is_production=project.is_production if project else None,
        project_flow_name=project.project_flow_name if project else None,
        root=spec.root,
        parallel=_parallel_info(spec, node),
    )


def _task_decorators(
    cls: type[FlowSpec], node: StepNode, spec: TaskSpec
) -> tuple[StepDecorator, ...]:
    """The step's decorators with ``--with`` ones, their Config values evaluated."""
    scope = config_scope(configs_of(cls), spec.parameters)
    specs = [parse_decospec(text) for text in spec.decospecs]
    return tuple(resolve_decorator(d, scope) for d in with_decospecs(node.decorators, specs))


def _apply_secrets(decorators: Sequence[StepDecorator]) -> None:
    """Fetch the secrets of ``@secrets`` into this task process's environment."""
    for decorator in decorators:
        if decorator.name == "secrets":
            from .._flow._secrets import fetch_secrets

            sources = decorator.attributes["sources"]
            os.environ.update(fetch_secrets(sources, decorator.attributes["role"]))


def _open_cards(
    spec: TaskSpec,
    decorators: Sequence[StepDecorator],
    cls: type[FlowSpec],
    get_flow: Callable[[], FlowSpec | None],
    blobs: BlobStore,
) -> TaskCards | None:
    cards = [d.attributes for d in decorators if d.name == "card"]
    if not cards:
        return None
    # Imported here: a task without @card does not load the card machinery.
    from .._cards._render import TaskSummary
    from .._cards._task import TaskCards

    pathspec = f"{spec.flow_name}/{spec.run_id}/{spec.step}/{spec.task_id}"
    steps = [node.name for node in cls._tf_graph()]

    def summary(ok: bool | None) -> TaskSummary:
        flow = get_flow()
        state = flow.__dict__ if flow is not None else {}
        return TaskSummary(
            pathspec=pathspec,
            attempt=spec.attempt,
            parameters=spec.parameters,
            artifacts={k: v for k, v in state.items() if not k.startswith("_")},
            steps=steps,
            ok=ok,
            username=spec.username,
        )

    return TaskCards(blobs, pathspec, spec.attempt, cards, summary)


def _persist_failed(
    flow: FlowSpec, node: StepNode, spec: TaskSpec, blobs: BlobStore
) -> list[ArtifactRef]:
    """The artifacts a failed step set before it raised (kept for ``@catch``)."""
    try:
        return _persist(flow, node, spec, blobs)
    except Exception as exc:  # noqa: BLE001 (the step's own failure is what is reported)
        sys.stderr.write(f"The artifacts of the failed step could not be stored: {exc}\n")
        return []


class StepTimedOut(BaseException):
    """Raised in a step when its ``@timeout`` is reached (a ``BaseException``, so that
    ``except Exception`` in the step does not swallow it)."""


@contextlib.contextmanager
def _deadline(seconds: float | None) -> Iterator[None]:
    """Interrupt the step after ``seconds`` with :class:`StepTimedOut` (main thread only;
    elsewhere the scheduler's own limit stops the process)."""
    on_main = threading.current_thread() is threading.main_thread()
    if not seconds or not on_main or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise StepTimedOut(f"the step ran for more than {seconds:g} seconds (@timeout)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _parallel_info(spec: TaskSpec, node: StepNode) -> ParallelInfo | None:
    """``current.parallel`` for one of the tasks of ``num_parallel``."""
    if not spec.stack or spec.stack[-1].var:
        return None
    frame = spec.stack[-1]
    control = spec.parallel_control or (spec.task_id if frame.index == 0 else None)
    return ParallelInfo(
        num_nodes=frame.num_splits, node_index=frame.index, control_task_id=control
    )


def _item_getter(blobs: BlobStore, spec: TaskSpec) -> Callable[[int], Any]:
    """``get(level)``: the item this task handles of the foreach at that level of its stack."""
    cache: dict[int, Any] = {}

    def get(level: int) -> Any:
        if level not in cache:
            frame = spec.stack[level]
            if not frame.var:  # num_parallel: the item is the node index
                return frame.index
            cache[level] = _item(loads(blobs.get(frame.value_sha)), frame.index)
        return cache[level]

    return get


def _item(values: Any, index: int) -> Any:
    if isinstance(values, Mapping):
        # The items of a foreach over a mapping are its keys, as iteration gives them.
        return list(values)[index]
    try:
        return values[index]
    except TypeError:
        return list(values)[index]


def _check_transition(flow: FlowSpec, node: StepNode, spec: TaskSpec) -> Any:
    transition = flow.__dict__["_tf_transition"]
    if node.type == "end":
        return None
    if transition is None:
        raise _at_step(
            FlowDefinitionError(
                f"Step '{node.name}' finished without calling self.next(). Make sure every "
                "path through the step ends with "
                f"self.next({', '.join('self.' + t for t in node.out_funcs)}).",
                step=node.name,
                file=node.file,
                line=node.line,
            ),
            node,
            node.line,
        )
    if node.type == "switch":
        ok = transition.condition == node.condition and transition.targets[0] in node.out_funcs
    else:
        ok = (
            transition.targets == node.out_funcs
            and transition.foreach == node.foreach_param
            and transition.parallel == node.parallel
        )
    if not ok:
        raise _at_step(
            FlowDefinitionError(
                f"Step '{node.name}' called self.next() with a transition that differs from "
                "its graph; a step has exactly one transition.",
                step=node.name,
                file=node.file,
                line=node.next_line,
            ),
            node,
            node.next_line,
        )
    if transition.foreach is not None:
        n = transition.num_splits or 0
        if n == 0:
            raise _at_step(
                TideflowError(
                    f"Step '{node.name}' starts a foreach over '{transition.foreach}', which "
                    "is empty: a foreach needs at least one item."
                ),
                node,
                node.next_line,
            )
        if n > spec.max_num_splits:
            raise _at_step(
                TideflowError(
                    f"Step '{node.name}' starts a foreach over {n} items, more than the limit "
                    f"of {spec.max_num_splits}. Raise it with --max-num-splits {n} (or "
                    f"max_num_splits={n} in Runner.run())."
                ),
                node,
                node.next_line,
            )
    return transition


def _persist(
    flow: FlowSpec, node: StepNode, spec: TaskSpec, blobs: BlobStore
) -> list[ArtifactRef]:
    """Store the task's artifacts: inherited ones by reference, new or changed ones as blobs."""
    state = flow.__dict__
    refs: dict[str, ArtifactRef] = {}
    if not node.is_join and spec.inputs:
        refs.update((ref.name, ref) for ref in spec.inputs[0].artifacts)
    for name in state["_tf_deleted"]:
        refs.pop(name, None)
    for name in state["_tf_merged"]:
        source = state["_tf_merge_sources"][name]
        refs[name] = source._artifacts[name]
    refs.update((ref.name, ref) for ref in spec.parameters_refs)
    for name, value in type(flow)._tf_constants().items():
        data = dumps(value, name)
        refs[name] = ArtifactRef(name, blobs.put(data), len(data))
    loaded: dict[str, str] = state["_tf_loaded"]
    batch: list[tuple[str, bytes]] = []

    def store_batch() -> None:
        # One put_many per batch, so a remote store sends the blobs in parallel.
        shas = blobs.put_many([data for _, data in batch])
        for (name, data), sha in zip(batch, shas, strict=True):
            if loaded.get(name) != sha:
                refs[name] = ArtifactRef(name, sha, len(data))
        batch.clear()

    held = 0
    for name, value in state.items():
        if name.startswith("_"):
            continue
        data = dumps(value, name)
        batch.append((name, data))
        held += len(data)
        if held >= _BATCH_BYTES:
            store_batch()
            held = 0
    store_batch()
    return list(refs.values())


#: Serialized artifacts held at once before they are stored together.
_BATCH_BYTES = 64 << 20
