"""``run`` and ``resume`` from the command line: one run actor, printed as it goes."""

from __future__ import annotations

import signal

import anyio

from .._runtime._state import RunState
from .._supervisor._output import RunOutput
from .._supervisor._run_actor import RunActor, RunRequest
from .._supervisor._supervisor import current_supervisor

__all__ = ("run_in_terminal",)


async def _stop_on_signal(actor: RunActor) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            await actor.output.write("stderr", ["Interrupted: stopping the run's tasks..."])
            await actor.stop(RunState.CANCELLED)
            return


async def run_in_terminal(request: RunRequest) -> int:
    """Run ``request`` with its console on this terminal; return the exit code."""
    supervisor = await current_supervisor(request.config)
    output = RunOutput(echo=True)
    executor = supervisor.executor(request.config.executor, request.config.kill_grace)
    actor = RunActor(request, executor=executor, output=output, shared_limiter=supervisor.limiter)
    try:
        # Outside the task group, so that an error while starting (a store that cannot
        # be written, say) reaches the caller as itself, not in an exception group.
        await supervisor.start(actor.run)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await actor.stop()
        raise
    async with anyio.create_task_group() as tg:
        tg.start_soon(_stop_on_signal, actor)
        try:
            await actor.wait()
        finally:
            with anyio.CancelScope(shield=True):
                await actor.stop()
        tg.cancel_scope.cancel()
    if actor.state is RunState.SUCCEEDED:
        return 0
    return 130 if actor.state is RunState.CANCELLED else 1
