"""The same non-blocking Runner API under trio, with a nursery running five runs at once.

Nothing in tideflow is specific to asyncio: under ``trio.run`` the runs live in a system
task of trio's loop and stop when it ends. trio is an optional dependency
(``pip install tideflow[trio]``).

Run it from this folder: ``python runner_trio.py``.
"""

import sys

from tideflow import Runner

try:
    import trio
except ImportError:
    print("trio is not installed: pip install tideflow[trio]")
    sys.exit(0)


async def one(seconds, results):
    async with await Runner("slowflow.py").async_run(seconds=seconds) as running:
        async for _, line in running.stream_log("stdout"):
            if line.endswith("seconds passed"):
                print(f"run {seconds}: {line.split('] ')[-1]}")
        await running.wait()
    results.append((seconds, running.status))


async def main():
    results = []
    async with trio.open_nursery() as nursery:
        for seconds in range(5):
            nursery.start_soon(one, seconds, results)
    print(sorted(results))


trio.run(main)
