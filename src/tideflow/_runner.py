"""Runner, NBRunner and ExecutingRun: start and follow runs from Python.

The async methods are the core: ``async_run`` starts a run actor in the supervisor of the
caller's event loop (asyncio or trio) and returns as soon as the run exists in the store.
The blocking methods run the same core in a blocking portal thread of their own, so they
work in plain scripts, worker threads and threads whose event loop is already running.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import anyio
from anyio.from_thread import start_blocking_portal

from ._flow._spec import FlowSpec
from ._request import build_request, check_top_level
from ._runtime._loader import load_flow
from ._runtime._state import RunState
from ._supervisor._output import RunOutput
from ._supervisor._run_actor import RunActor, RunRequest
from ._supervisor._supervisor import current_supervisor

if TYPE_CHECKING:
    from ._client import Run

__all__ = ("ExecutingRun", "NBRunner", "Runner")


class ExecutingRun:
    """A run started by :class:`Runner`: its client ``Run``, status and console output.

    Returned by ``Runner.run()``, ``resume()``, ``async_run()`` and ``async_resume()``;
    not meant to be built directly. Works as a sync and an async context manager; leaving
    it stops the run if it still runs and cleans up the runner.
    """

    def __init__(self, runner: Runner, actor: RunActor) -> None:
        self._runner = runner
        self._actor = actor

    def __repr__(self) -> str:
        return f"<ExecutingRun {self._actor.pathspec} status={self.status}>"

    @property
    def run(self) -> Run:
        """The client :class:`Run` of this run."""
        from ._client import Run

        return Run(self._actor.pathspec, _namespace_check=False, _root=self._actor.request.root)

    @property
    def state(self) -> RunState:
        """The run's detailed state (beyond the reference): running, succeeded, failed, ..."""
        return self._actor.state

    @property
    def status(self) -> str:
        """``running``, ``successful``, ``failed`` or ``timeout``."""
        return self._actor.state.status

    @property
    def returncode(self) -> int | None:
        """``None`` while the run runs; 0 when it succeeded; non-zero otherwise."""
        return self._actor.state.returncode

    @property
    def stdout(self) -> str:
        """The run's console standard output so far (all of it once the run ended)."""
        return self._actor.output.text("stdout")

    @property
    def stderr(self) -> str:
        """The run's console standard error so far (all of it once the run ended)."""
        return self._actor.output.text("stderr")

    async def wait(self, timeout: float | None = None, stream: str | None = None) -> ExecutingRun:
        """Wait for the run to end; after ``timeout`` seconds stop it (status ``timeout``).

        With ``stream`` (``stdout`` or ``stderr``) that stream is printed while waiting.
        """
        if stream is not None:
            RunOutput.check_stream(stream)
        if self._actor.state.finished:
            if stream is not None:
                async for _, line in self.stream_log(stream):
                    print(line)  # noqa: T201 - documented behaviour
            return self
        with anyio.move_on_after(timeout if timeout is not None else float("inf")) as scope:
            if stream is not None:
                async for _, line in self.stream_log(stream):
                    print(line)  # noqa: T201 - documented behaviour
            await self._actor.wait()
        if scope.cancelled_caught:
            await self._actor.stop(RunState.TIMEOUT)
        return self

    async def stream_log(
        self, stream: str, position: int | None = None
    ) -> AsyncIterator[tuple[int, str]]:
        """Yield ``(position, line)`` of the run's console ``stream`` until the run ends.

        ``position`` is the byte offset just after the line: pass it back to resume right
        after that line, during the run or after it.
        """
        async for item in self._actor.output.follow(stream, position):
            yield item

    async def _stop(self) -> None:
        if not self._actor.state.finished:
            await self._actor.stop(RunState.CANCELLED)

    def __enter__(self) -> ExecutingRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._actor.state.finished and self._actor._scope is not None:
            self._actor._scope.cancel()
        self._runner.cleanup()

    async def __aenter__(self) -> ExecutingRun:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stop()
        self._runner.cleanup()


class Runner:
    """Run and resume flows from Python, blocking or with ``async``/``await``.

    ``flow_file`` is the path of a flow file (relative to ``cwd``), or, beyond the
    reference, a FlowSpec subclass or a ``"package.module:FlowClass"`` string.
    ``**kwargs`` are the flow's top-level options: ``decospecs`` (``--with``),
    ``pylint``, ``quiet``, ``metadata``, ``datastore``, ``executor``, ``root``,
    ``username``. ``env`` is added to the environment of the run only; ``os.environ``
    is never changed.
    """

    def __init__(
        self,
        flow_file: str | os.PathLike[str] | type[FlowSpec],
        show_output: bool = True,
        profile: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        file_read_timeout: int = 3600,
        **kwargs: Any,
    ) -> None:
        if not isinstance(flow_file, (str, os.PathLike, type)):
            raise TypeError(
                f"Runner() takes a flow file path, a FlowSpec subclass or 'module:Class'; "
                f"got {type(flow_file).__name__}."
            )
        if env is not None and not (
            isinstance(env, Mapping)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())
        ):
            raise TypeError("Runner(env=...) takes a dict of strings.")
        self.flow_file = flow_file
        self.show_output = show_output
        self.profile = profile
        self.env = dict(env or {})
        self.cwd = str(Path(cwd).resolve()) if cwd is not None else os.getcwd()
        self.file_read_timeout = file_read_timeout
        self.top_level = check_top_level(kwargs)
        self._temporary: list[Path] = []

    def __repr__(self) -> str:
        return f"<Runner {self.flow_file!r}>"

    # -- preparing -------------------------------------------------------------------

    def _request(self, kwargs: Mapping[str, Any], *, resume: bool) -> RunRequest:
        flow = load_flow(self.flow_file, cwd=self.cwd)
        return build_request(
            flow,
            top_level=self.top_level,
            options=kwargs,
            env=self.env,
            cwd=self.cwd,
            resume=resume,
        )

    async def _start(self, request: RunRequest, *, echo: bool) -> ExecutingRun:
        supervisor = await current_supervisor()
        output = RunOutput(echo=echo)
        executor = supervisor.executor(request.config.executor, request.config.kill_grace)
        actor = RunActor(
            request, executor=executor, output=output, shared_limiter=supervisor.limiter
        )
        with anyio.fail_after(self.file_read_timeout):
            await supervisor.start(actor.run)
        return ExecutingRun(self, actor)

    async def _async(self, kwargs: Mapping[str, Any], *, resume: bool, echo: bool) -> ExecutingRun:
        request = await anyio.to_thread.run_sync(lambda: self._request(kwargs, resume=resume))
        return await self._start(request, echo=echo)

    # -- non-blocking API ------------------------------------------------------------

    async def async_run(self, **kwargs: Any) -> ExecutingRun:
        """Start a run; return its :class:`ExecutingRun` as soon as the run exists."""
        return await self._async(kwargs, resume=False, echo=False)

    async def async_resume(self, **kwargs: Any) -> ExecutingRun:
        """Resume a run (``origin_run_id``, ``step_to_rerun``); return once it exists."""
        return await self._async(kwargs, resume=True, echo=False)

    # -- blocking API ----------------------------------------------------------------

    def _blocking(self, kwargs: Mapping[str, Any], *, resume: bool) -> ExecutingRun:
        request = self._request(kwargs, resume=resume)

        async def run_to_end() -> ExecutingRun:
            executing = await self._start(request, echo=self.show_output)
            try:
                await executing._actor.wait()
            finally:
                with anyio.CancelScope(shield=True):
                    await executing._stop()
            return executing

        with start_blocking_portal() as portal:
            return portal.call(run_to_end)

    def run(self, **kwargs: Any) -> ExecutingRun:
        """Run the flow and wait until the run ends; return its :class:`ExecutingRun`."""
        return self._blocking(kwargs, resume=False)

    def resume(self, **kwargs: Any) -> ExecutingRun:
        """Resume a run and wait until it ends; return its :class:`ExecutingRun`."""
        return self._blocking(kwargs, resume=True)

    # -- cleanup ---------------------------------------------------------------------

    def cleanup(self) -> None:
        """Delete the temporary files this runner created."""
        while self._temporary:
            path = self._temporary.pop()
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cleanup()

    async def __aenter__(self) -> Runner:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.cleanup()


def _cell_source(flow: type[FlowSpec]) -> str:
    """The source of the notebook cell (or module) that defines ``flow``."""
    import inspect
    import linecache

    filename = inspect.getsourcefile(flow) or flow.start.__code__.co_filename
    lines = linecache.getlines(filename)
    if not lines:
        raise ValueError(
            f"Cannot find the source of {flow.__name__}: define it in a notebook cell or a "
            "Python file."
        )
    return "".join(lines)


class NBRunner:
    """Run a flow defined in a notebook cell: ``NBRunner(MyFlow).nbrun()``.

    The cell's source is saved to a file in ``base_dir`` (a temporary folder by default),
    which task processes import. Not a context manager: ``nbrun``/``nbresume`` clean up
    themselves; call :meth:`cleanup` after ``async_run``/``async_resume``.
    """

    def __init__(
        self,
        flow: type[FlowSpec],
        show_output: bool = True,
        profile: str | None = None,
        env: Mapping[str, str] | None = None,
        base_dir: str | os.PathLike[str] | None = None,
        file_read_timeout: int = 3600,
        **kwargs: Any,
    ) -> None:
        if not (isinstance(flow, type) and issubclass(flow, FlowSpec)):
            raise TypeError(f"NBRunner() takes a FlowSpec subclass, got {flow!r}.")
        self.flow = flow
        module = sys.modules.get(flow.__module__)
        importable = (
            flow.__module__ != "__main__"
            and getattr(module, "__file__", None)
            and Path(module.__file__).is_file()  # type: ignore[union-attr, arg-type]
        )
        folder = Path(tempfile.mkdtemp(prefix="tideflow-nb-", dir=base_dir))
        target: str | type[FlowSpec]
        if importable:
            target = flow
        else:
            path = folder / f"{flow.__name__.lower()}_flow.py"
            path.write_text(_cell_source(flow))
            target = str(path)
        self.runner = Runner(
            target,
            show_output=show_output,
            profile=profile,
            env=env,
            cwd=os.getcwd(),
            file_read_timeout=file_read_timeout,
            **kwargs,
        )
        self.runner._temporary.append(folder)

    def __repr__(self) -> str:
        return f"<NBRunner {self.flow.__name__}>"

    def nbrun(self, **kwargs: Any) -> Run:
        """Run the flow, wait for the end, clean up, and return the finished :class:`Run`."""
        try:
            return self.runner.run(**kwargs).run
        finally:
            self.cleanup()

    def nbresume(self, **kwargs: Any) -> Run:
        """Resume a run, wait for the end, clean up, and return the resumed :class:`Run`."""
        try:
            return self.runner.resume(**kwargs).run
        finally:
            self.cleanup()

    async def async_run(self, **kwargs: Any) -> ExecutingRun:
        """Start a run; same as :meth:`Runner.async_run`."""
        return await self.runner.async_run(**kwargs)

    async def async_resume(self, **kwargs: Any) -> ExecutingRun:
        """Start a resume; same as :meth:`Runner.async_resume`."""
        return await self.runner.async_resume(**kwargs)

    def cleanup(self) -> None:
        """Delete the temporary files (the saved cell)."""
        self.runner.cleanup()
