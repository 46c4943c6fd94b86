"""Many runs against one PostgreSQL database at once: 8 CLI runs started at the same instant
and 200 concurrent ``async_run()``\\ s; every run id is unique and every run succeeds. Then
a supervisor killed with SIGKILL is reported as crashed within seconds.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

from tideflow import Runner
from tideflow._metadata._postgres import PostgresMetadataStore

FLOWS = Path(__file__).resolve().parent.parent / "flows"
CLI_RUNS = 8
ASYNC_RUNS = 200
_SCHEMAS = itertools.count(1)


@pytest.fixture(scope="module", params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


@pytest.fixture
def url(postgres_url: str) -> str:
    return f"{postgres_url}&schema=load{next(_SCHEMAS)}"


async def _cli_runs(url: str, folder: Path) -> list[int]:
    env = {**os.environ, "TIDEFLOW_METADATA_URL": url, "TIDEFLOW_ROOT": str(folder / ".cli")}
    env["TIDEFLOW_USER"] = "tester"
    processes = [
        await anyio.open_process(
            [sys.executable, str(FLOWS / "hello_flow.py"), "--quiet", "run"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(CLI_RUNS)
    ]
    codes = []
    for process in processes:
        async with process:
            codes.append(await process.wait())
    return codes


@pytest.mark.timeout(900)
async def test_many_runs_at_once_share_one_database(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIDEFLOW_METADATA_URL", url)
    monkeypatch.setenv("TIDEFLOW_USER", "tester")
    monkeypatch.setenv("TIDEFLOW_EXECUTOR", "fork" if os.name == "posix" else "spawn")
    runner = Runner(str(FLOWS / "hello_flow.py"), show_output=False, root=str(tmp_path / ".a"))
    statuses: list[str] = []
    codes: list[int] = []

    async def one() -> None:
        running = await runner.async_run()
        async with running:
            await running.wait()
        statuses.append(running.status)

    async def cli() -> None:
        codes.extend(await _cli_runs(url, tmp_path))

    with anyio.fail_after(800):
        async with anyio.create_task_group() as tg:
            tg.start_soon(cli)
            for _ in range(ASYNC_RUNS):
                tg.start_soon(one)
    assert codes == [0] * CLI_RUNS
    assert statuses == ["successful"] * ASYNC_RUNS
    with PostgresMetadataStore(url) as store:
        runs = store.list_runs("HelloFlow")
    assert len({run.run_id for run in runs}) == len(runs) == CLI_RUNS + ASYNC_RUNS
    assert {run.status for run in runs} == {"succeeded"}


_SUPERVISOR = """
import sys, time
from tideflow._metadata._postgres import PostgresMetadataStore
with PostgresMetadataStore(sys.argv[1]) as store:
    run = store.create_run("Supervised", user="tester", system_tags=["user:tester"])
    store.hold_run_lease("Supervised", run.run_id)
    print(run.run_id, flush=True)
    while True:
        store.heartbeat("Supervised", run.run_id)
        time.sleep(0.2)
"""


def test_a_killed_supervisor_is_crashed_within_seconds(url: str) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", _SUPERVISOR, url], stdout=subprocess.PIPE, text=True
    ) as supervisor:
        assert supervisor.stdout is not None
        run_id = supervisor.stdout.readline().strip()
        os.kill(supervisor.pid, signal.SIGKILL)
    with PostgresMetadataStore(url) as store:
        for _ in range(200):  # at most ten seconds
            # The heartbeat is fresh: only the lease can tell the supervisor is gone.
            if store.mark_stale_runs("Supervised", older_than=3600):
                break
            time.sleep(0.05)
        assert store.get_run("Supervised", run_id).status == "crashed"
