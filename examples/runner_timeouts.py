"""Stop runs: wait(timeout=...), the caller's own timeouts, and leaving a context manager.

A stopped run's task processes are stopped too (terminate, a short grace period, kill),
everything they started included, and the run's final state is recorded.

Run it from this folder: ``python runner_timeouts.py``.
"""

import anyio

from tideflow import Runner


async def main():
    # wait(timeout) stops the run when the time is up: status "timeout".
    running = await Runner("slowflow.py").async_run(seconds=30)
    await running.wait(timeout=1)
    print(f"{running.run}: status {running.status}, returncode {running.returncode}")

    # A timeout of the caller's: cancelling wait() stops the run (state "cancelled").
    running = await Runner("slowflow.py").async_run(seconds=30)
    with anyio.move_on_after(1):
        await running.wait()
    print(f"{running.run}: status {running.status}, state {running.state.value}")

    # fail_after raises TimeoutError; leaving "async with" stops the run on the way out.
    try:
        with anyio.fail_after(1):
            async with await Runner("slowflow.py").async_run(seconds=30) as running:
                await running.wait()
    except TimeoutError:
        print(f"{running.run}: gave up waiting, state {running.state.value}")


anyio.run(main)
