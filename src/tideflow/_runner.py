"""Runner, NBRunner and ExecutingRun: start and follow runs from Python.

The async methods are the core: ``async_run`` starts a run actor in the supervisor of the
caller's event loop (asyncio or trio) and returns as soon as the run exists in the store.
The blocking methods run the same core in tideflow's event loop thread for blocking calls
(one per process, see :mod:`._supervisor._blocking`), so they
work in plain scripts, worker threads and threads whose event loop is already running.

Every task process imports ``tideflow`` (flow files do), so this module imports the
supervisor, the scheduler and anyio only when a run starts: a task starts faster.
"""

from __future__ import annotations

import ast
import linecache
import os
import shutil
import sys
import tempfile
import threading
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, final

import msgspec

from ._flow._spec import FlowSpec
from ._runtime._state import RunState

if TYPE_CHECKING:
    from types import TracebackType

    from anyio.lowlevel import EventLoopToken

    from ._client import Run
    from ._runtime._loader import LoadedFlow
    from ._supervisor._run_actor import RunActor, RunRequest

__all__ = ("ExecutingRun", "NBRunner", "Runner")

T = TypeVar("T")

#: Seconds a shielded stop of a run may take (the actor bounds its own cleanup too).
STOP_TIMEOUT = 30.0
#: The streams of a run's console.
STREAMS = ("stdout", "stderr")


class _NoPublicConstructor(type):
    """Metaclass of classes that only tideflow creates (through ``_create``)."""

    def __call__(cls, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError(
            f"{cls.__name__} has no public constructor: Runner.run(), resume(), async_run() "
            "and async_resume() return one."
        )

    def _create(cls: type[T], *args: Any, **kwargs: Any) -> T:
        return super().__call__(*args, **kwargs)  # type: ignore[misc, no-any-return]


def _check_number(where: str, value: object, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{where} takes a number of seconds, got {type(value).__name__}.")
    if value < 0 or (positive and value == 0):
        raise ValueError(f"{where} must be {'above' if positive else 'at least'} 0, got {value}.")
    return float(value)


def _check_stream(where: str, stream: object) -> str:
    if stream not in STREAMS:
        raise ValueError(f"{where}: stream must be 'stdout' or 'stderr', not {stream!r}.")
    return str(stream)


async def _stop_shielded(actor: RunActor, reason: RunState) -> None:
    """Stop the run and wait for its end, even from a cancelled scope; bounded."""
    import anyio

    with anyio.CancelScope(shield=True), anyio.move_on_after(STOP_TIMEOUT):
        await actor.stop(reason)


@final
class ExecutingRun(metaclass=_NoPublicConstructor):
    """A run started by :class:`Runner`: its client ``Run``, status and console output.

    Returned by ``Runner.run()``, ``resume()``, ``async_run()`` and ``async_resume()``;
    it has no public constructor. The run belongs to the event loop that started it: await
    :meth:`wait` and iterate :meth:`stream_log` there while it runs (once it has ended,
    anywhere). Works as a sync and an async context manager: leaving it stops the run if it
    still runs (``async with`` also waits until the run's processes are gone) and cleans up
    the runner.
    """

    def __init__(self, runner: Runner, actor: RunActor, token: EventLoopToken) -> None:
        self._runner = runner
        self._actor = actor
        self._token = token
        self._thread = threading.get_ident()
        self._stop_asked = False

    def __repr__(self) -> str:
        return f"<ExecutingRun {self.pathspec} status={self.status}>"

    def __del__(self) -> None:
        actor = getattr(self, "_actor", None)
        if actor is not None and not actor.state.finished and not self._stop_asked:
            warnings.warn(
                f"ExecutingRun {actor.pathspec} was garbage collected while its run was "
                "still running (the run goes on until its event loop ends): await wait(), "
                "or use the ExecutingRun as a context manager",
                ResourceWarning,
                source=self,
                stacklevel=1,
            )

    # -- what the run is ---------------------------------------------------------------

    @property
    def run(self) -> Run:
        """The client :class:`Run` of this run (it sees the run while it executes too)."""
        from ._client import Run

        request = self._actor.request
        config = msgspec.structs.replace(request.config, root=str(request.root))
        return Run(self._actor.pathspec, _namespace_check=False, _root=config)

    @property
    def pathspec(self) -> str:
        """``FlowName/run_id`` (beyond the reference)."""
        return self._actor.pathspec

    @property
    def state(self) -> RunState:
        """The run's detailed state (beyond the reference).

        ``running``, ``succeeded``, ``failed``, ``cancelled``, ``timeout`` or ``crashed``:
        the value recorded in the store.
        """
        return self._actor.state

    @property
    def status(self) -> str:
        """``running``, ``successful``, ``failed`` or ``timeout``.

        A run that was cancelled (the caller's scope, its event loop ending) or that
        crashed reads ``failed``; :attr:`state` tells them apart.
        """
        return self._actor.state.status

    @property
    def returncode(self) -> int | None:
        """``None`` while the run runs; 0 when it succeeded; non-zero otherwise.

        1 for a failed run, -15 (SIGTERM) for a run stopped by ``wait(timeout)``, -2
        (SIGINT) for a cancelled one: the codes the reference's subprocess would have.
        """
        return self._actor.state.returncode

    @property
    def stdout(self) -> str:
        """The run's console standard output so far (all of it once the run ended)."""
        return self._actor.output.text("stdout")

    @property
    def stderr(self) -> str:
        """The run's console standard error so far (all of it once the run ended)."""
        return self._actor.output.text("stderr")

    # -- waiting and following -----------------------------------------------------------

    def _check_loop(self, what: str) -> None:
        if self._actor.state.finished:
            return
        from anyio.lowlevel import current_token

        try:
            token: EventLoopToken | None = current_token()
        except RuntimeError:
            token = None
        if token != self._token:
            raise RuntimeError(
                f"{what} was called outside the event loop that runs {self.pathspec}. "
                "A run started by async_run() belongs to the event loop that started it: "
                "await it there (from another thread, use anyio.from_thread.run)."
            )

    async def wait(self, timeout: float | None = None, stream: str | None = None) -> ExecutingRun:  # noqa: ASYNC109 - the reference's signature
        """Wait for the run to end, optionally with a timeout and echoing its output.

        :param timeout: seconds to wait; when they pass, the run is stopped (its whole
            process tree) and its status becomes ``timeout``. ``None`` waits forever.
        :param stream: ``stdout`` or ``stderr``: print that stream of the run's console to
            standard output while waiting, from its beginning.
        :return: this object, so that calls chain.
        :raises ValueError: for a stream other than ``stdout`` or ``stderr``, or a negative
            timeout.
        :raises TypeError: for a timeout that is not a number.
        :raises RuntimeError: if called outside the event loop that runs the run.

        Cancelling the caller while it waits stops the run too (its state becomes
        ``cancelled``); ``wait`` returns once the run's processes are gone.
        """
        import anyio

        limit = _check_number("wait(timeout=...)", timeout) if timeout is not None else None
        if stream is not None:
            _check_stream("wait()", stream)
        actor = self._actor
        if actor.state.finished:  # nothing to wait for, in any event loop
            if stream is not None:
                await self._echo(stream)
            else:
                await anyio.lowlevel.checkpoint()
            return self
        self._check_loop("ExecutingRun.wait()")
        try:
            with anyio.move_on_after(limit if limit is not None else float("inf")):
                if stream is not None:
                    await self._echo(stream)
                await actor.wait()
        except anyio.get_cancelled_exc_class():
            self._stop_asked = True
            await _stop_shielded(actor, RunState.CANCELLED)
            raise
        if not actor.state.finished:
            self._stop_asked = True
            await _stop_shielded(actor, RunState.TIMEOUT)
        return self

    async def _echo(self, stream: str) -> None:
        async for _, line in self._actor.output.follow(stream):
            print(line)  # noqa: T201 - documented: the stream goes to stdout

    def stream_log(
        self, stream: str, position: int | None = None
    ) -> AsyncIterator[tuple[int, str]]:
        """Iterate asynchronously over the lines of ``stream``, until the run has ended.

        Use it as ``async for position, line in running.stream_log("stdout")``.

        :param stream: ``stdout`` or ``stderr``.
        :param position: where to start: ``None`` or 0 for the beginning, else a position
            this method yielded before, to resume right after that line, during the run or
            after it.
        :return: an async iterator of ``(position, line)``, where ``position`` is the byte
            offset just after the line in the run's console stream, and ``line`` is the
            line without its newline. Lines arrive as they are written, with no polling.
        :raises ValueError: for an unknown stream or a negative position (at once).
        :raises TypeError: for a position that is not an integer (at once).
        :raises RuntimeError: when called outside the event loop that runs the run.

        The iterator needs no closing: leaving it unfinished (``aiter``/``anext``) is fine.
        """
        _check_stream("stream_log()", stream)
        if position is not None:
            if isinstance(position, bool) or not isinstance(position, int):
                raise TypeError(
                    f"stream_log(position=...) takes an int, got {type(position).__name__}."
                )
            if position < 0:
                raise ValueError(f"stream_log(position=...) must be at least 0, got {position}.")
        self._check_loop("ExecutingRun.stream_log()")
        return self._actor.output.follow(stream, position)

    # -- context managers ------------------------------------------------------------------

    def _ask_stop(self) -> None:
        """Ask the run to stop without waiting for it, from any thread."""
        actor = self._actor
        if actor.state.finished:
            return
        self._stop_asked = True
        reason = RunState.CANCELLED
        if threading.get_ident() == self._thread:
            actor.cancel(reason)
            return
        from anyio import RunFinishedError
        from anyio.from_thread import run_sync

        try:
            run_sync(actor.cancel, reason, token=self._token)
        except RunFinishedError:  # the loop ended: so did the run
            pass

    def __enter__(self) -> ExecutingRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._ask_stop()
        self._runner.cleanup()

    async def __aenter__(self) -> ExecutingRun:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._actor.state.finished:
            self._check_loop("ExecutingRun.__aexit__()")
            self._stop_asked = True
            await _stop_shielded(self._actor, RunState.CANCELLED)
        self._runner.cleanup()


@final
class Runner:
    """Run and resume flows from Python, blocking or with ``async``/``await``.

    :param flow_file: the path of a flow file (relative to ``cwd``), or, beyond the
        reference, a FlowSpec subclass or a ``"package.module:FlowClass"`` string.
    :param show_output: echo the run's console to this process's stdout and stderr while
        a blocking :meth:`run` or :meth:`resume` runs.
    :param profile: set as ``TIDEFLOW_PROFILE`` in the run's environment.
    :param env: variables added to the environment of the run's tasks (and read for the
        run's settings, such as ``TIDEFLOW_ROOT``); ``os.environ`` is never changed.
    :param cwd: the working directory of the run's tasks, and where a relative
        ``flow_file`` is found; the current directory by default.
    :param file_read_timeout: seconds a run may take to start (to load the flow and to
        exist in the store) before ``TimeoutError``.
    :param kwargs: the flow's top-level command-line options: ``decospecs`` (``--with``),
        ``pylint``, ``quiet``, ``metadata``, ``datastore``, ``environment``, and beyond
        the reference ``executor``, ``root``, ``username`` and ``progress`` (``False``:
        no live status block under the output of :meth:`run` on a terminal).
    :raises ValueError: for an unknown option (the message lists the valid ones).
    :raises TypeError: for an option of the wrong type.
    :raises FlowFileNotFound: (a :exc:`FileNotFoundError`) if ``flow_file`` names a file
        that does not exist.

    Works as a sync and an async context manager, which calls :meth:`cleanup` at exit.
    """

    def __init__(
        self,
        flow_file: str | os.PathLike[str] | type[FlowSpec],
        show_output: bool = True,
        profile: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        file_read_timeout: float = 3600,
        **kwargs: Any,
    ) -> None:
        from ._request import check_top_level

        if isinstance(flow_file, type):
            if not issubclass(flow_file, FlowSpec):
                raise TypeError(f"Runner() takes a FlowSpec subclass, not {flow_file!r}.")
        elif not isinstance(flow_file, (str, os.PathLike)):
            raise TypeError(
                "Runner() takes a flow file path, a FlowSpec subclass or 'module:Class'; "
                f"got {type(flow_file).__name__}."
            )
        if not isinstance(show_output, bool):
            raise TypeError(f"Runner(show_output=...) takes a bool, got {show_output!r}.")
        if profile is not None and not isinstance(profile, str):
            raise TypeError(f"Runner(profile=...) takes a str, got {profile!r}.")
        if env is not None and not (
            isinstance(env, Mapping)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())
        ):
            raise TypeError("Runner(env=...) takes a dict of str to str.")
        if cwd is not None and not Path(cwd).is_dir():
            raise ValueError(f"Runner(cwd=...): {os.fspath(cwd)!r} is not a directory.")
        self.flow_file = flow_file
        self.show_output = show_output
        self.profile = profile
        self.env = dict(env or {})
        self.cwd = str(Path(cwd).resolve()) if cwd is not None else os.getcwd()
        self.file_read_timeout = _check_number(
            "Runner(file_read_timeout=...)", file_read_timeout, positive=True
        )
        self.top_level = check_top_level(kwargs)
        self._notebook: _SavedCell | None = None
        if not isinstance(flow_file, type):
            from ._runtime._loader import flow_file_path

            flow_file_path(flow_file, self.cwd)

    def __repr__(self) -> str:
        flow = self.flow_file
        return f"<Runner {flow.__name__ if isinstance(flow, type) else os.fspath(flow)!r}>"

    def __del__(self) -> None:
        notebook = getattr(self, "_notebook", None)
        if notebook is not None and notebook.cleanup():
            warnings.warn(
                f"{self!r} was garbage collected with temporary files left: call cleanup() "
                "after async_run() or async_resume()",
                ResourceWarning,
                source=self,
                stacklevel=1,
            )

    # -- preparing -------------------------------------------------------------------

    def _load(self) -> LoadedFlow:
        if self._notebook is not None:
            return self._notebook.load(self.cwd)
        from ._runtime._loader import load_flow

        return load_flow(self.flow_file, cwd=self.cwd)

    def _prepare(self, options: Mapping[str, Any], resume: bool) -> RunRequest:
        """Load the flow and check everything; runs in a worker thread."""
        from ._request import build_request

        env = dict(self.env)
        if self.profile is not None:
            env["TIDEFLOW_PROFILE"] = self.profile
        return build_request(
            self._load(),
            top_level=self.top_level,
            options=options,
            env=env,
            cwd=self.cwd,
            resume=resume,
        )

    async def _launch(
        self, options: Mapping[str, Any], *, resume: bool, echo: bool
    ) -> ExecutingRun:
        """Start a run in the supervisor of this event loop; return once it exists."""
        import anyio
        from anyio.lowlevel import current_token

        from ._supervisor._output import RunOutput
        from ._supervisor._run_actor import RunActor
        from ._supervisor._supervisor import current_supervisor

        options = dict(options)
        with anyio.move_on_after(self.file_read_timeout):
            request = await anyio.to_thread.run_sync(
                self._prepare, options, resume, abandon_on_cancel=True
            )
            supervisor = await current_supervisor(request.config)
            supervisor.apply_config(request.config)
            executor = supervisor.executor(request.config.executor, request.config.kill_grace)
            display = None
            if echo:
                from ._ui._terminal import terminal_display

                display = terminal_display(request, progress=self.top_level.get("progress", True))
            actor = RunActor(
                request,
                executor=executor,
                output=RunOutput(echo=echo, display=display),
                shared_limiter=supervisor.limiter,
                stores=supervisor.stores(request.config, request.root),
            )
            await supervisor.start(actor.run)
            return ExecutingRun._create(self, actor, current_token())
        raise TimeoutError(
            f"The run of {self!r} did not start within file_read_timeout="
            f"{self.file_read_timeout:g} seconds."
        )

    async def _to_end(self, options: Mapping[str, Any], resume: bool) -> ExecutingRun:
        """Start a run and wait for its end; stop it if the wait is interrupted."""
        import anyio

        executing = await self._launch(options, resume=resume, echo=self.show_output)
        try:
            display = executing._actor.output.display
            async with anyio.create_task_group() as tg:
                if display is not None:
                    tg.start_soon(display.run)
                await executing._actor.wait()
                tg.cancel_scope.cancel()
        finally:
            await _stop_shielded(executing._actor, RunState.CANCELLED)
        return executing

    def _blocking(self, func: Callable[[Mapping[str, Any], bool], Awaitable[T]], *args: Any) -> T:
        """Call ``func`` in the process's event loop for blocking calls (never the caller's)."""
        from ._supervisor._blocking import blocking_loop

        return blocking_loop().call(func, *args)

    # -- non-blocking API ------------------------------------------------------------

    async def async_run(self, **kwargs: Any) -> ExecutingRun:
        """Start a run; return its :class:`ExecutingRun` as soon as the run exists.

        :param kwargs: the flow's parameters, and ``tags``, ``max_workers``,
            ``max_num_splits``, ``run_id_file``, ``user_namespace``.
        :return: the :class:`ExecutingRun` of the running run.
        :raises ValueError: for an unknown argument (the message lists the valid ones).
        :raises TypeError: for a value of the wrong type, before anything starts.
        :raises FlowDefinitionError: when the flow file does not load (syntax error,
            import error, bad graph): at once, with the flow's error text.
        :raises TimeoutError: when the run did not start within ``file_read_timeout``.
        """
        return await self._launch(kwargs, resume=False, echo=False)

    async def async_resume(self, **kwargs: Any) -> ExecutingRun:
        """Resume a run; return its :class:`ExecutingRun` as soon as the new run exists.

        :param kwargs: ``origin_run_id`` (the latest run by default), ``step_to_rerun``,
            and the run options of :meth:`async_run`.
        :return: the :class:`ExecutingRun` of the resumed run.
        :raises ValueError: for an unknown argument.
        :raises TypeError: for a value of the wrong type.
        """
        return await self._launch(kwargs, resume=True, echo=False)

    # -- blocking API ----------------------------------------------------------------

    def run(self, **kwargs: Any) -> ExecutingRun:
        """Run the flow and wait until the run ends; see :meth:`async_run` for arguments.

        :return: the finished run's :class:`ExecutingRun`.
        """
        return self._blocking(self._to_end, kwargs, False)

    def resume(self, **kwargs: Any) -> ExecutingRun:
        """Resume a run and wait until it ends; see :meth:`async_resume` for arguments.

        :return: the finished resumed run's :class:`ExecutingRun`.
        """
        return self._blocking(self._to_end, kwargs, True)

    # -- cleanup ---------------------------------------------------------------------

    def cleanup(self) -> None:
        """Delete the temporary files this runner created (a notebook flow's saved cell)."""
        if self._notebook is not None:
            self._notebook.cleanup()

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cleanup()

    async def __aenter__(self) -> Runner:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.cleanup()


# -- notebooks -------------------------------------------------------------------------

#: Names whose top-level statements are left out of a saved cell: running them again in a
#: task would start the flow from inside itself, or need IPython.
_CELL_ONLY_NAMES = frozenset({"NBRunner", "nbrun", "nbresume", "get_ipython"})


def _source_file(flow: type[FlowSpec]) -> str | None:
    for value in vars(flow).values():
        code = getattr(value, "__code__", None)
        if code is not None:
            return str(code.co_filename)
    return None


def _names_used(node: ast.stmt) -> set[str]:
    used = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            used.add(child.id)
        elif isinstance(child, ast.Attribute):
            used.add(child.attr)
    return used


def _names_bound(node: ast.stmt) -> set[str]:
    bound = {
        child.id
        for child in ast.walk(node)
        if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store)
    }
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        bound.add(node.name)
    return bound


def _cell_text(flow: type[FlowSpec]) -> str:
    """The source of the cell (or file) that defines ``flow``, as a task can import it.

    Top-level statements that use NBRunner or IPython are blanked out, and so are those
    that use what such statements made (``run = NBRunner(F).nbrun()``, then
    ``print(run.data.x)``). Blank lines keep the line numbers, so tracebacks and the graph
    point at the cell's lines.
    """
    filename = _source_file(flow)
    lines = linecache.getlines(filename) if filename else []
    if not lines:
        raise ValueError(
            f"Cannot find the source of {flow.__name__}: NBRunner needs a flow defined in a "
            "notebook cell or a Python file."
        )
    lines = list(lines)
    tree = ast.parse("".join(lines))
    if not any(
        isinstance(node, ast.ClassDef) and node.name == flow.__name__ for node in tree.body
    ):
        raise ValueError(
            f"NBRunner needs {flow.__name__} defined at the top level of its cell or file "
            "(not inside a function or another class)."
        )
    tainted = set(_CELL_ONLY_NAMES)
    for node in tree.body:
        keep = isinstance(node, (ast.Import, ast.ImportFrom)) or (
            isinstance(node, ast.ClassDef) and node.name == flow.__name__
        )
        if keep or not _names_used(node) & tainted:
            continue
        tainted |= _names_bound(node)
        decorators = getattr(node, "decorator_list", [])
        start = min([node.lineno, *(d.lineno for d in decorators)])
        for index in range(start - 1, node.end_lineno or node.lineno):
            lines[index] = "\n"
    return "".join(lines)


def _importable(flow: type[FlowSpec]) -> bool:
    """Whether task processes can import ``flow`` by its module and name."""
    module = sys.modules.get(flow.__module__)
    file = getattr(module, "__file__", None)
    return (
        flow.__module__ != "__main__"
        and isinstance(file, str)
        and Path(file).is_file()
        and getattr(module, flow.__qualname__, None) is flow
    )


class _SavedCell:
    """A notebook flow saved to a temporary file for task processes, written on demand."""

    def __init__(self, flow: type[FlowSpec], base_dir: str | None) -> None:
        self.flow = flow
        self.text = _cell_text(flow)
        self._base_dir = base_dir
        self._folder: Path | None = None
        self._lock = threading.Lock()

    def load(self, cwd: str) -> LoadedFlow:
        from ._runtime._loader import LoadedFlow

        with self._lock:
            if self._folder is None or not self._folder.is_dir():
                self._folder = Path(tempfile.mkdtemp(prefix="tideflow-nb-", dir=self._base_dir))
            path = self._folder / f"tideflow_notebook_{self.flow.__name__.lower()}.py"
            if not path.is_file():
                path.write_text(self.text, encoding="utf-8")
        paths = [str(self._folder), cwd, *(p for p in sys.path if p and os.path.isdir(p))]
        return LoadedFlow(
            cls=self.flow, graph=self.flow._tf_graph(), source=str(path), sys_path=paths
        )

    def cleanup(self) -> bool:
        """Delete the saved file; return whether there was one."""
        with self._lock:
            folder, self._folder = self._folder, None
        if folder is None or not folder.exists():
            return False
        shutil.rmtree(folder, ignore_errors=True)
        return True


@final
class NBRunner:
    """Run a flow defined in a notebook cell: ``run = NBRunner(MyFlow).nbrun()``.

    :param flow: the FlowSpec subclass. When task processes cannot import it (it was
        defined in a notebook cell, in ``__main__``, or from source held only in memory),
        its cell is saved to a temporary file, which :meth:`cleanup` deletes.
    :param base_dir: the working directory of the run, where the temporary file goes too;
        the current directory (and the system's temporary folder) by default.

    The other parameters are those of :class:`Runner`. Not a context manager: ``nbrun`` and
    ``nbresume`` clean up themselves; call :meth:`cleanup` after ``async_run`` and
    ``async_resume``.
    """

    def __init__(
        self,
        flow: type[FlowSpec],
        show_output: bool = True,
        profile: str | None = None,
        env: Mapping[str, str] | None = None,
        base_dir: str | os.PathLike[str] | None = None,
        file_read_timeout: float = 3600,
        **kwargs: Any,
    ) -> None:
        if not (isinstance(flow, type) and issubclass(flow, FlowSpec)):
            raise TypeError(f"NBRunner() takes a FlowSpec subclass, got {flow!r}.")
        if base_dir is not None and not Path(base_dir).is_dir():
            raise ValueError(
                f"NBRunner(base_dir=...): {os.fspath(base_dir)!r} is not a directory."
            )
        self.flow = flow
        self.runner = Runner(
            flow,
            show_output=show_output,
            profile=profile,
            env=env,
            cwd=base_dir,
            file_read_timeout=file_read_timeout,
            **kwargs,
        )
        if not _importable(flow):
            folder = os.fspath(base_dir) if base_dir is not None else None
            self.runner._notebook = _SavedCell(flow, folder)

    def __repr__(self) -> str:
        return f"<NBRunner {self.flow.__name__}>"

    def nbrun(self, **kwargs: Any) -> Run:
        """Run the flow, wait for the end, clean up, and return the finished :class:`Run`.

        :param kwargs: as for :meth:`Runner.run`.
        """
        try:
            return self.runner.run(**kwargs).run
        finally:
            self.cleanup()

    def nbresume(self, **kwargs: Any) -> Run:
        """Resume a run, wait for the end, clean up, and return the resumed :class:`Run`.

        :param kwargs: as for :meth:`Runner.resume`.
        """
        try:
            return self.runner.resume(**kwargs).run
        finally:
            self.cleanup()

    async def async_run(self, **kwargs: Any) -> ExecutingRun:
        """Start a run; same as :meth:`Runner.async_run`. Call :meth:`cleanup` after."""
        return await self.runner.async_run(**kwargs)

    async def async_resume(self, **kwargs: Any) -> ExecutingRun:
        """Start a resume; same as :meth:`Runner.async_resume`. Call :meth:`cleanup` after."""
        return await self.runner.async_resume(**kwargs)

    def cleanup(self) -> None:
        """Delete the temporary files (the saved cell)."""
        self.runner.cleanup()
