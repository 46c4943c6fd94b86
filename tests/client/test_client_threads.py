"""The blocking client from a plain test, worker threads and a running event loop."""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import anyio.lowlevel
import anyio.to_thread
import pytest

from forking import run_forked
from tideflow import Flow, Run, Task

if TYPE_CHECKING:
    from conftest import ClientRuns


def read_everything(runs: ClientRuns) -> tuple[object, ...]:
    """A little of everything the blocking client reads."""
    run = Run(runs.train)
    task = Task(f"{runs.train}/start/1")
    return (
        run.data.result,  # type: ignore[union-attr]
        run.successful,
        [step.id for step in run],
        task.stdout,
        sorted(t.index for t in run["train_model"]),  # type: ignore[type-var]
        Flow("ClientTrainFlow").latest_run,
    )


def expected(runs: ClientRuns) -> tuple[object, ...]:
    return (
        60,
        True,
        ["end", "join", "train_model", "start"],
        "starting\n",
        [0, 1, 2],
        Run(runs.train),
    )


def test_from_a_plain_test(client_runs: ClientRuns) -> None:
    """No event loop anywhere."""
    assert read_everything(client_runs) == expected(client_runs)


def test_from_worker_threads(client_runs: ClientRuns) -> None:
    """Sixteen threads reading at once share one store connection safely."""
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda _: read_everything(client_runs), range(32)))
    assert results == [expected(client_runs)] * 32


async def test_from_inside_a_running_event_loop(client_runs: ClientRuns) -> None:
    """As the reference pages do (``running.run.data`` inside ``async def main()``)."""
    assert read_everything(client_runs) == expected(client_runs)


async def test_from_a_worker_thread_of_an_event_loop(client_runs: ClientRuns) -> None:
    """anyio's worker threads, on both backends."""
    result = await anyio.to_thread.run_sync(read_everything, client_runs)
    assert result == expected(client_runs)


async def test_every_kind_of_query_inside_a_running_event_loop(client_runs: ClientRuns) -> None:
    """A blocking read in a coroutine reads in the caller's thread, on both backends, for
    each kind of declared query: property, lookup, iteration, children list, listing and
    method; the loop goes on afterwards."""
    flow = Flow("ClientTrainFlow")
    run = Run(client_runs.train)
    task = Task(f"{client_runs.train}/start/1")
    assert flow.name == "ClientTrainFlow" and run.successful  # held, read
    assert run["start"].id == "start" and "start" in run  # lookup
    assert [step.id for step in run][-1] == "start"  # iteration
    assert [r.pathspec for r in flow.runs("prod")] == [client_runs.train]  # children
    assert [line for _, line in task.loglines("stdout")] == ["starting"]  # listing
    assert run.is_in_namespace()  # method
    await anyio.lowlevel.checkpoint()


def _read_in_child(runs: ClientRuns) -> None:
    os._exit(0 if read_everything(runs) == expected(runs) else 1)


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork")
def test_from_a_child_forked_while_threads_were_reading(client_runs: ClientRuns) -> None:
    """A process forked while other threads read (and may hold the client's and the
    stores' locks) reads on connections of its own; the parent's keep working."""
    assert read_everything(client_runs) == expected(client_runs)  # the stores are open
    stop = threading.Event()

    def keep_reading() -> None:
        while not stop.is_set():
            read_everything(client_runs)

    readers = [threading.Thread(target=keep_reading) for _ in range(3)]
    for reader in readers:
        reader.start()
    try:
        codes = run_forked([(_read_in_child, (client_runs,))] * 4)
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert codes == [0] * 4
    assert read_everything(client_runs) == expected(client_runs)
