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

import anyio

from .._runtime._state import RunState
from .._supervisor._output import RunOutput, echo
from .._supervisor._run_actor import RunActor, RunRequest
from .._supervisor._supervisor import current_supervisor

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


async def _stop_on_signal(actor: RunActor, received: list[int]) -> None:
    handled = _handled_signals()
    if not handled:
        await anyio.sleep_forever()
    with anyio.open_signal_receiver(*handled) as signals:
        async for signum in signals:
            received.append(signum)
            name = signal.Signals(signum).name
            await actor.output.write(
                "stderr", [f"Interrupted ({name}): stopping the run's tasks..."]
            )
            await actor.stop(RunState.CANCELLED)
            return


async def run_in_terminal(request: RunRequest, progress: bool = True) -> int:
    """Run ``request`` with its console on this terminal; return the exit code.

    On a terminal, a live status block stays under the lines unless ``progress`` is false.
    """
    from .._ui._terminal import terminal_display

    supervisor = await current_supervisor(request.config)
    supervisor.apply_config(request.config)
    display = terminal_display(request, progress=progress)
    output = RunOutput(echo=True, display=display)
    executor = supervisor.executor(request.config.executor, request.config.kill_grace)
    actor = RunActor(
        request,
        executor=executor,
        output=output,
        shared_limiter=supervisor.limiter,
        stores=supervisor.stores(request.config, request.root),
    )
    received: list[int] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(_stop_on_signal, actor, received)
        if display is not None:
            tg.start_soon(display.run)
        try:
            await supervisor.start(actor.run)
            await actor.wait()
        finally:
            with anyio.CancelScope(shield=True):
                await actor.stop()
        tg.cancel_scope.cancel()
    if actor.state is RunState.SUCCEEDED:
        return 0
    if actor.state is RunState.CANCELLED:
        return 128 + (received[0] if received else signal.SIGINT)
    return 1
