"""Start runs without blocking, under asyncio: status, logs, positions, concurrency.

``await Runner(...).async_run()`` returns as soon as the run exists; the run goes on in
the background of this event loop while the coroutine does other things.

Run it from this folder: ``python runner_async.py``.
"""

import asyncio

from tideflow import Runner


async def follow_one_run():
    # Read a line while the run goes on, then the rest from that line's position.
    async with await Runner("slowflow.py", quiet=True).async_run(seconds=3) as running:
        lines = aiter(running.stream_log("stdout"))
        position, line = await anext(lines)
        print(f"first line, status {running.status}: {line}")
        await running.wait()
        async for end, line in running.stream_log("stdout", position=position):
            print(f"later (ends at byte {end}): {line}")
        print(f"{running.run} ended: {running.status}")


async def many_runs():
    # Five runs at once, each with its own parameter value.
    runs = [await Runner("slowflow.py").async_run(seconds=i) for i in range(5)]
    for running in runs:
        async with running:
            await running.wait()
        print(f"{running.run} ran for {running.run.data.secs} seconds: {running.status}")


async def main():
    await follow_one_run()
    await many_runs()


asyncio.run(main())
