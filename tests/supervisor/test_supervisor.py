"""The supervisor: one per event loop, started on first use, ended with its loop."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import anyio
import pytest

import tideflow
from executors import host_processes
from stored_runs import metadata_store
from tideflow import Runner
from tideflow._runtime._loader import load_flow
from tideflow._runtime._request import build_request
from tideflow._states import RunState
from tideflow._supervisor._supervisor import (
    Supervisor,
    SupervisorStatistics,
    current_supervisor,
    default_task_cap,
)

if TYPE_CHECKING:
    from pathlib import Path


async def test_one_supervisor_per_event_loop() -> None:
    supervisor = await current_supervisor()
    assert await current_supervisor() is supervisor

    async def other_loop() -> Supervisor:
        return await current_supervisor()

    other = await anyio.to_thread.run_sync(anyio.run, other_loop)
    assert other is not supervisor
    assert other.closed  # its loop has ended
    assert not supervisor.closed


async def test_statistics(tideflow_root: Path, flows_dir: Path) -> None:
    supervisor = await current_supervisor()
    assert supervisor.statistics() == SupervisorStatistics(
        runs=0, tasks=0, task_cap=int(supervisor.limiter.total_tokens), executors=()
    )
    async with await Runner(str(flows_dir / "runner_slowflow.py"), executor="spawn").async_run(
        seconds=1
    ) as running:
        stats = supervisor.statistics()
        assert (stats.runs, stats.executors) == (1, ("spawn",))
        await running.wait()
    assert supervisor.statistics().runs == 0
    assert repr(supervisor).startswith("<Supervisor open runs=0 ")


async def test_unknown_executor() -> None:
    supervisor = await current_supervisor()
    with pytest.raises(
        ValueError, match=r"^Unknown executor 'thread': use 'spawn', 'fork' or 'dask'"
    ):
        supervisor.executor("thread", 1.0)


def test_the_loop_end_closes_the_executors(
    tideflow_root: Path, flows_dir: Path, anyio_backend: str
) -> None:
    """Invariant: when the loop ends, the supervisor closes, and its fork hosts go."""
    if os.name != "posix":
        pytest.skip("fork needs POSIX")

    # Hosts of the blocking API's loop (other tests' run() calls) stay warm: not ours.
    before = {p.pid for p in host_processes()}

    async def main() -> Supervisor:
        runner = Runner(str(flows_dir / "hello_flow.py"), executor="fork")
        await (await runner.async_run()).wait()
        assert host_processes(before) != []
        return await current_supervisor()

    supervisor = anyio.run(main, backend=anyio_backend)
    assert supervisor.closed
    assert host_processes(before) == []


async def test_the_first_run_sets_the_task_cap_and_later_runs_keep_it(
    tideflow_root: Path, flows_dir: Path
) -> None:
    """The cap belongs to the loop: a later run never changes it for the others."""
    flow = str(flows_dir / "hello_flow.py")
    async with await Runner(flow, show_output=False, task_limit=2).async_run() as running:
        await running.wait()
    supervisor = await current_supervisor()
    assert supervisor.statistics().task_cap == 2
    with pytest.raises(
        ValueError,
        match=r"^task_limit=3 is not the cap of 2 running tasks that every run of this event "
        r"loop shares \(blocking calls share one loop per process\); the cap is set by the "
        r"loop's first run\. Leave task_limit out, or give it \(or TIDEFLOW_TASK_LIMIT\) to "
        r"the first run\.$",
    ):
        await Runner(flow, show_output=False, task_limit=3).async_run()
    for options in ({}, {"task_limit": 2}):
        async with await Runner(flow, show_output=False, **options).async_run() as running:
            await running.wait()
            assert running.status == "successful"
    assert supervisor.statistics().task_cap == 2
    assert len(list(tideflow.Flow("HelloFlow").runs())) == 3


async def test_without_a_task_limit_the_cap_comes_from_the_cores() -> None:
    supervisor = await current_supervisor()
    assert supervisor.statistics().task_cap == default_task_cap()


async def test_runs_share_the_supervisors_stores(tideflow_root: Path, flows_dir: Path) -> None:
    """One bundle per store configuration, opened by the first run and kept for the next."""
    supervisor = await current_supervisor()
    runner = Runner(str(flows_dir / "hello_flow.py"), show_output=False)
    first = await runner.async_run()
    second = await runner.async_run()
    await first.wait()
    await second.wait()
    assert first._actor.stores is second._actor.stores
    from tideflow._config import load_config

    config = load_config()
    assert supervisor.stores(config, tideflow_root) is first._actor.stores


def _connections(url: str) -> int:
    import psycopg

    from tideflow._metadata._pg_connect import parse_url

    with psycopg.connect(parse_url(url).conninfo, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.timeout(600)
async def test_50_runs_at_once_use_a_few_database_connections(
    tideflow_root: Path, flows_dir: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Invariant: the runs of a supervisor share one pool and one lease connection, so 50
    concurrent runs with their metadata in PostgreSQL hold a few connections, not 100.
    (tests/metadata/test_postgres_load.py runs 200 at once, and checks their ids.)"""
    from tideflow._metadata._pg_connect import POOL_SIZE

    runs = 50

    url = f"{postgres_url}&schema=shared_pool"
    monkeypatch.setenv("TIDEFLOW_METADATA_URL", url)
    runner = Runner(str(flows_dir / "hello_flow.py"), show_output=False)
    statuses: list[str] = []
    peak = 0

    async def one() -> None:
        running = await runner.async_run()
        await running.wait()
        statuses.append(running.status)

    async with anyio.create_task_group() as tg:
        for _ in range(runs):
            tg.start_soon(one)
        while len(statuses) < runs:
            peak = max(peak, await anyio.to_thread.run_sync(_connections, url))
            await anyio.sleep(0.05)
    assert statuses == ["successful"] * runs
    # The pool, the lease connection, and the one that checks the schema on first use.
    assert 1 <= peak <= POOL_SIZE + 2, peak


async def test_a_postgres_run_holds_its_lease_while_it_runs(
    tideflow_root: Path, flows_dir: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run actor takes the store's lease (an advisory lock) instead of a lock file,
    and lets it go once the run's end is recorded."""
    from tideflow._metadata._liveness import lock_path
    from tideflow._metadata._postgres import PostgresMetadataStore

    url = f"{postgres_url}&schema=leases"
    monkeypatch.setenv("TIDEFLOW_METADATA_URL", url)
    runner = Runner(
        str(flows_dir / "fail_sleep_flow.py"), show_output=False, env={"NAP_SECONDS": "30"}
    )
    running = await runner.async_run()
    async with running:
        async for _, line in running.stream_log("stdout"):
            if "nap 0 starts" in line:
                break
        with PostgresMetadataStore(url) as store:
            assert store.is_run_alive("FailSleepFlow", running.run.id) is True
        assert not lock_path(tideflow_root, "FailSleepFlow", running.run.id).exists()
    assert running.status in ("failed", "cancelled")
    with PostgresMetadataStore(url) as store:
        assert store.is_run_alive("FailSleepFlow", running.run.id) is False
        assert store.get_run("FailSleepFlow", running.run.id).status == "cancelled"


async def test_start_run_returns_once_the_run_exists(tideflow_root: Path, flows_dir: Path) -> None:
    """Invariant: start_run() gives the actor of a run that is in the store, using the
    supervisor's shared executor and cap; the run then goes on to its end."""

    request = build_request(
        load_flow(str(flows_dir / "hello_flow.py")),
        top_level={"executor": "spawn"},
        options={},
        cwd=os.getcwd(),
    )
    supervisor = await current_supervisor(request.config)
    actor = await supervisor.start_run(request)
    assert actor.run_id is not None
    with metadata_store(tideflow_root) as store:
        flow, run_id = actor.pathspec.split("/")
        assert store.get_run(flow, run_id).run_id == run_id
    assert "spawn" in supervisor.statistics().executors
    await actor.wait()
    assert actor.state == RunState.SUCCEEDED == "succeeded"
    assert not actor.output.display  # not echoed: no status block


async def test_start_run_refuses_a_conflicting_task_cap(
    tideflow_root: Path, flows_dir: Path
) -> None:

    supervisor = await current_supervisor()
    cap = supervisor.statistics().task_cap
    request = build_request(
        load_flow(str(flows_dir / "hello_flow.py")),
        top_level={"task_limit": cap + 1},
        options={},
        cwd=os.getcwd(),
    )
    with pytest.raises(ValueError, match=f"task_limit={cap + 1} is not the cap"):
        await supervisor.start_run(request)
    assert supervisor.statistics().runs == 0


async def test_a_store_removed_between_runs_is_created_again(
    tideflow_root: Path, flows_dir: Path
) -> None:
    """The shared bundle of a store whose folder was removed (a notebook starting afresh)
    is replaced, so the next run is recorded in the new database, not in the old file."""
    import shutil

    if os.environ.get("TIDEFLOW_METADATA_URL"):
        pytest.skip("the metadata is on a server: nothing local to remove")
    runner = Runner(str(flows_dir / "hello_flow.py"), show_output=False)
    first = await runner.async_run()
    await first.wait()
    shutil.rmtree(tideflow_root)
    second = await runner.async_run()
    await second.wait()
    assert second.status == "successful"
    assert [run.id for run in tideflow.Flow("HelloFlow").runs()] == [second.run.id]
