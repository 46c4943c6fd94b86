"""``run`` and ``resume`` from the command line: one run actor, printed as it goes.

The command owns the process's signals while the run goes on: SIGINT (Ctrl-C), SIGTERM
and SIGHUP (the terminal went away) each stop the run, which is recorded as cancelled,
and the command exits with 128 plus the signal's number (130, 143, 129), as a shell
expects. A signal the command was started with ignored stays ignored: a background job
(``python flow.py run &`` in a non-interactive shell, ``nohup``) is not stopped by Ctrl-C
or by its terminal closing.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

import anyio

from .._states import RunState
from .._supervisor._output import echo
from .._supervisor._supervisor import current_supervisor

if TYPE_CHECKING:
    from .._runtime._request import RunRequest
    from .._supervisor._run_actor import RunActor
    from .._worker._blank import HostProcess

__all__ = ("STOP_SIGNALS", "run_in_terminal", "say")

#: The signals that stop a run started from the command line.
STOP_SIGNALS: tuple[signal.Signals, ...] = (
    signal.SIGINT,
    signal.SIGTERM,
    *([signal.SIGHUP] if hasattr(signal, "SIGHUP") else []),
)


def say(text: str) -> None:
    """Print a line of the command's own to stdout; nothing if nobody reads it any more
    (``python flow.py run | head -1``): the run goes on all the same."""
    echo("stdout", f"{text}\n")


def _handled_signals() -> list[signal.Signals]:
    """The stop signals this process was not started with ignored."""
    return [sig for sig in STOP_SIGNALS if signal.getsignal(sig) is not signal.SIG_IGN]


async def _stop_on_signal(launched: list[RunActor], received: list[int]) -> None:
    """Stop the run at the first stop signal; one that comes while the run starts is kept
    in ``received``, and :func:`run_in_terminal` stops the run once it exists."""
    handled = _handled_signals()
    if not handled:
        await anyio.sleep_forever()
    with anyio.open_signal_receiver(*handled) as signals:
        async for signum in signals:
            received.append(signum)
            text = f"Interrupted ({signal.Signals(signum).name}): stopping the run's tasks..."
            if not launched:
                echo("stderr", f"{text}\n")
                return
            await launched[0].output.write("stderr", [text])
            await launched[0].stop(RunState.CANCELLED)
            return


async def run_in_terminal(
    request: RunRequest, progress: bool = True, started: HostProcess | None = None
) -> int:
    """Run ``request`` with its console on this terminal; return the exit code.

    On a terminal, a live status block stays under the lines unless ``progress`` is false.
    ``started`` is a fork host started for the run before the event loop (the fork
    executor takes it over).
    """
    supervisor = await current_supervisor(request.config)
    received: list[int] = []
    launched: list[RunActor] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(_stop_on_signal, launched, received)
        try:
            actor = await supervisor.start_run(
                request, echo=True, progress=progress, started=started
            )
            launched.append(actor)
            if received:
                await actor.stop(RunState.CANCELLED)
            if actor.output.display is not None:
                tg.start_soon(actor.output.display.run)
            await actor.wait()
        finally:
            with anyio.CancelScope(shield=True):
                for launched_actor in launched:
                    await launched_actor.stop()
        tg.cancel_scope.cancel()
    if actor.state is RunState.SUCCEEDED:
        return 0
    if actor.state is RunState.CANCELLED:
        return 128 + (received[0] if received else signal.SIGINT)
    return 1
