"""Runner: start and resume flows from Python, blocking or with ``async``/``await``.

The async methods are the core: ``async_run`` loads and checks the request, then starts
the run in the supervisor of the caller's event loop (asyncio or trio) through
:meth:`Supervisor.start_run <.._supervisor._supervisor.Supervisor.start_run>`, and returns
as soon as the run exists in the store. The blocking methods run the same core in
tideflow's event loop thread for blocking calls (one per process, see
:mod:`.._supervisor._blocking`), so they work in plain scripts, worker threads and
threads whose event loop is already running.

Every task process imports ``tideflow`` (flow files do), so this package imports the
supervisor, the scheduler and anyio only when a run starts: a task starts faster.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, final

from .._exceptions import TideflowError
from .._flow._spec import FlowSpec
from .._states import RunState
from ._executing import ExecutingRun, check_number, stop_shielded

if TYPE_CHECKING:
    from .._runtime._loader import LoadedFlow
    from .._runtime._request import RunRequest
    from .._worker._blank import HostProcess
    from ._notebook import SavedCell

__all__ = ("Runner",)

T = TypeVar("T")


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
        from .._runtime._request import check_top_level

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
        self.file_read_timeout = check_number(
            "Runner(file_read_timeout=...)", file_read_timeout, positive=True
        )
        self.top_level = check_top_level(kwargs)
        self._notebook: SavedCell | None = None
        if not isinstance(flow_file, type):
            from .._runtime._loader import flow_file_path

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
        from .._runtime._loader import load_flow

        return load_flow(self.flow_file, cwd=self.cwd)

    def _prepare(self, options: Mapping[str, Any], resume: bool) -> RunRequest:
        """Load the flow and check everything; runs in a worker thread."""
        from .._runtime._request import build_request

        return build_request(
            self._load(),
            top_level=self.top_level,
            options=options,
            env=self._env(),
            cwd=self.cwd,
            resume=resume,
        )

    def _env(self) -> dict[str, str]:
        """What the runner adds to the environment of its runs' tasks."""
        env = dict(self.env)
        if self.profile is not None:
            env["TIDEFLOW_PROFILE"] = self.profile
        return env

    def _start_host_early(self) -> HostProcess | None:
        """For the first run of an event loop, with the fork executor: start a fork host's
        interpreter before anything else. It imports tideflow while the event loop
        starts, the flow loads, the supervisor is imported and the run is created; the
        run's fork executor then takes it over as the flow's host. ``None`` when that
        does not apply. The caller closes it unless ``taken``.
        """
        from .._runtime._request import request_config
        from .._worker._blank import start_early_host

        env = {**os.environ, **self._env()}
        try:
            executor = request_config(env, self.top_level).executor
        except (ValueError, TypeError, TideflowError):
            return None  # the run reports it
        return start_early_host(executor, env, self.cwd)

    async def _launch(
        self,
        options: Mapping[str, Any],
        *,
        resume: bool,
        echo: bool,
        started: HostProcess | None = None,
    ) -> ExecutingRun:
        """Start a run in the supervisor of this event loop; return once it exists.

        :param started: a fork host started early for this run (see
            :meth:`_start_host_early`); without one, the first run of the loop starts it.
            Either way the host is offered to the loop's runs, and the first of them to
            warm up a fork host takes it over (runs launched together load their flows
            side by side, in no set order); one nobody took is closed here.
        """
        import anyio
        from anyio.lowlevel import current_token

        from .._worker._blank import offer_early_host, withdraw_early_host

        options = dict(options)
        if _first_launch() and started is None:
            started = self._start_host_early()
        if started is not None:
            offer_early_host(started)  # the supervisor hands it to the first fork warm-up
        try:
            with anyio.move_on_after(self.file_read_timeout):
                request = await anyio.to_thread.run_sync(
                    self._prepare, options, resume, abandon_on_cancel=True
                )
                from .._supervisor._supervisor import current_supervisor

                supervisor = await current_supervisor(request.config)
                progress = self.top_level.get("progress", True)
                actor = await supervisor.start_run(request, echo=echo, progress=progress)
                return ExecutingRun._create(self, actor, current_token())
        finally:
            if started is not None and withdraw_early_host(started):  # nobody took it
                with anyio.CancelScope(shield=True):
                    await started.aclose()
        raise TimeoutError(
            f"The run of {self!r} did not start within file_read_timeout="
            f"{self.file_read_timeout:g} seconds."
        )

    async def _to_end(
        self, options: Mapping[str, Any], resume: bool, started: HostProcess | None
    ) -> ExecutingRun:
        """Start a run and wait for its end; stop it if the wait is interrupted."""
        import anyio

        executing = await self._launch(
            options, resume=resume, echo=self.show_output, started=started
        )
        try:
            display = executing._actor.output.display
            if display is None:
                await executing._actor.wait()
            else:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(display.run)
                    await executing._actor.wait()
                    tg.cancel_scope.cancel()
        finally:
            await stop_shielded(executing._actor, RunState.CANCELLED)
        return executing

    def _blocking(
        self,
        func: Callable[[Mapping[str, Any], bool, HostProcess | None], Awaitable[T]],
        options: Mapping[str, Any],
        resume: bool,
    ) -> T:
        """Call ``func`` in the process's event loop for blocking calls (never the caller's).

        The first call of the process starts a fork host before it starts that loop.
        """
        from .._supervisor._blocking import blocking_loop

        loop = blocking_loop()
        started = self._start_host_early() if loop.claim_first_call() else None
        try:
            return loop.call(func, options, resume, started)
        finally:
            if started is not None and not started.taken:
                started.close()  # the run did not get that far (it closed it, or never ran)

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


def _first_launch() -> bool:
    """True for the first run launched in the running event loop, once: only that one
    starts a fork host early (the runs launched at the same moment, before the loop's
    supervisor exists, would otherwise each start one)."""
    from .._worker._blank import claim_early_host

    return not _has_supervisor() and claim_early_host()


def _has_supervisor() -> bool:
    """Whether the running event loop has started its supervisor (without importing it)."""
    supervisor = sys.modules.get("tideflow._supervisor._supervisor")
    return supervisor is not None and bool(supervisor.has_supervisor())
