"""ExecutingRun: a run started by Runner, followed from the event loop that started it.

Its status and console are those of the run actor (:mod:`.._supervisor._run_actor`); the
blocking facade returns one whose run has ended, so its properties are plain data.
"""

from __future__ import annotations

import threading
import warnings
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, final

import msgspec

from .._states import RunState

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from anyio.lowlevel import EventLoopToken

    from .._client import Run
    from .._supervisor._run_actor import RunActor
    from ._runner import Runner

__all__ = ("ExecutingRun", "check_number", "stop_shielded")

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


def check_number(where: str, value: object, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{where} takes a number of seconds, got {type(value).__name__}.")
    if value < 0 or (positive and value == 0):
        raise ValueError(f"{where} must be {'above' if positive else 'at least'} 0, got {value}.")
    return float(value)


def _check_stream(where: str, stream: object) -> str:
    if stream not in STREAMS:
        raise ValueError(f"{where}: stream must be 'stdout' or 'stderr', not {stream!r}.")
    return str(stream)


async def stop_shielded(actor: RunActor, reason: RunState) -> None:
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
        from .._client import Run

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

        limit = check_number("wait(timeout=...)", timeout) if timeout is not None else None
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
            await stop_shielded(actor, RunState.CANCELLED)
            raise
        if not actor.state.finished:
            self._stop_asked = True
            await stop_shielded(actor, RunState.TIMEOUT)
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

    def __exit__(self, *exc_info: object) -> None:
        self._ask_stop()
        self._runner.cleanup()

    async def __aenter__(self) -> ExecutingRun:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if not self._actor.state.finished:
            self._check_loop("ExecutingRun.__aexit__()")
            self._stop_asked = True
            await stop_shielded(self._actor, RunState.CANCELLED)
        self._runner.cleanup()
