"""RunOutput: a run's console, followed by readers that resume from byte positions."""

from __future__ import annotations

import gc

import anyio
import pytest
from anyio import wait_all_tasks_blocked

from tideflow._supervisor._output import RunOutput


async def test_positions_are_byte_offsets_after_each_line() -> None:
    output = RunOutput()
    await output.write("stdout", ["one", "dé✓", ""])
    output.close()
    items = [item async for item in output.follow("stdout")]
    assert items == [(4, "one"), (4 + len("dé✓".encode()) + 1, "dé✓"), (items[1][0] + 1, "")]
    assert items[-1][0] == output.size("stdout")
    for index, (position, _) in enumerate(items):
        assert [item async for item in output.follow("stdout", position)] == items[index + 1 :]
    assert [item async for item in output.follow("stderr")] == []


async def test_a_waiting_reader_is_woken_by_each_write() -> None:
    """No polling: once a write returns and the loop has run, the reader has the line."""
    output = RunOutput()
    seen: list[str] = []

    async def read() -> None:
        async for _, line in output.follow("stdout"):
            seen.append(line)

    async with anyio.create_task_group() as tg:
        tg.start_soon(read)
        for number in range(5):
            await wait_all_tasks_blocked()
            assert seen == [f"line {i}" for i in range(number)]
            await output.write("stdout", [f"line {number}"])
        await wait_all_tasks_blocked()
        assert len(seen) == 5
        output.close()
    assert seen == [f"line {i}" for i in range(5)]


async def test_every_step_is_a_checkpoint() -> None:
    """Reading a long log lets other tasks run and can be cancelled at each line."""
    output = RunOutput()
    await output.write("stdout", [f"line {i}" for i in range(100)])
    with anyio.CancelScope() as scope:
        scope.cancel()
        with pytest.raises(anyio.get_cancelled_exc_class()):
            await anext(output.follow("stdout"))


async def test_unfinished_readers_need_no_finalizing() -> None:
    """A follower is a plain object: dropping it mid-way warns of nothing, on any loop."""
    output = RunOutput()
    await output.write("stdout", ["a", "b"])
    follower = aiter(output.follow("stdout"))
    assert await anext(follower) == (2, "a")
    assert repr(follower) == "<LogFollower stdout at 2>"
    del follower
    gc.collect()


async def test_misuse() -> None:
    output = RunOutput()
    with pytest.raises(ValueError, match=r"^stream must be 'stdout' or 'stderr', not 'stdin'"):
        output.follow("stdin")
    output.close()
    with pytest.raises(RuntimeError, match=r"^This run's console is closed"):
        await output.write("stdout", ["late"])
    assert repr(output) == "<RunOutput stdout=0B, stderr=0B closed>"


async def test_echo(capsys: pytest.CaptureFixture[str]) -> None:
    output = RunOutput(echo=True)
    await output.write("stdout", ["to stdout"])
    await output.write("stderr", ["to stderr"])
    assert capsys.readouterr() == ("to stdout\n", "to stderr\n")
    assert output.text("stdout") == "to stdout\n"
