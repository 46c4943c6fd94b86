"""The dask executor against a real dask.distributed cluster of worker processes.

A module-scoped fixture starts a LocalCluster (two worker processes behind nannies, on
127.0.0.1, dashboard off) and stops it after the module; every test runs its flows there
with ``TIDEFLOW_EXECUTOR=dask`` and ``TIDEFLOW_DASK_ADDRESS``. The tests pick a few of the
executor tests' flows (every DAG shape, the decorators, failures, timeouts, a stopped
run), plus what only a cluster has: code shipping, a worker killed mid-task, nothing left
on any worker. The shapes, decorators, failures, output, timeout and resume tests run
twice: with the store on the local disk, shared by the workers, and with artifacts, logs
and code packages in S3 (the ``datastore`` fixture).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import psutil
import pytest

from executors import is_host, wait_for_file
from stored_runs import blob_store, metadata_store
from tideflow import Runner
from tideflow._datastore._artifacts import loads
from tideflow._exceptions import TideflowError
from tideflow._worker import _dask
from tideflow._worker._dask_cluster import dask_address, local_cluster_options
from tideflow._worker._dask_warm import host_statistics

if TYPE_CHECKING:
    from collections.abc import Iterator

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the dask executor's tests need POSIX")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """Two Dask worker processes with two threads each and declared resources."""
    with distributed.LocalCluster(
        **local_cluster_options(
            n_workers=2,
            threads_per_worker=2,
            resources={"CPU": 2, "MEMORY": 2000},
            silence_logs=40,
        )
    ) as local:
        yield local


@pytest.fixture
async def own_cluster(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A cluster of two one-thread workers for one test that breaks it (kills a worker,
    stops the scheduler); the test's runs use it."""
    own: Any = await anyio.to_thread.run_sync(
        lambda: distributed.LocalCluster(
            **local_cluster_options(n_workers=2, threads_per_worker=1, silence_logs=50)
        )
    )
    monkeypatch.setenv("TIDEFLOW_DASK_ADDRESS", own.scheduler_address)
    try:
        yield own
    finally:
        # With its scheduler stopped, closing tries to reach it until the connect
        # timeout (30 s by default) has passed: nothing answers there any more.
        with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
            await anyio.to_thread.run_sync(own.close)


@pytest.fixture(autouse=True)
def on_dask(cluster: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every Runner of the test uses the dask executor on the module's cluster."""
    monkeypatch.setenv("TIDEFLOW_EXECUTOR", "dask")
    monkeypatch.setenv("TIDEFLOW_DASK_ADDRESS", cluster.scheduler_address)
    return str(cluster.scheduler_address)


@pytest.fixture(params=["local", "s3"])
def datastore(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Artifacts, logs and code packages in the local store shared by the workers, or
    in S3 (the suite's SeaweedFS server, a prefix of the test's own); the test's runs
    use it."""
    if request.param == "s3":
        server = request.getfixturevalue("s3_server")
        bucket = request.getfixturevalue("s3_bucket")
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        prefix = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name).strip("-")
        monkeypatch.setenv("TIDEFLOW_DATASTORE_URL", f"s3://{bucket}/{prefix}")
    return str(request.param)


def worker_pids(cluster: Any) -> list[int]:
    """The pids of the cluster's worker processes now."""
    with distributed.Client(cluster, set_as_default=False) as client:
        return list(client.run(os.getpid).values())


def host_stats(cluster: Any) -> dict[str, dict[str, Any]]:
    """The warm hosts of each worker: ``hosts_started`` and ``host_pids``."""
    with distributed.Client(cluster, set_as_default=False) as client:
        return dict(client.run(host_statistics))


def worker_children(cluster: Any, deadline: float = 10.0) -> list[psutil.Process]:
    """Processes below any worker except its warm hosts (task processes and what they
    started), waiting up to ``deadline`` seconds for them to go."""
    end = time.monotonic() + deadline
    while True:
        left = []
        for pid in worker_pids(cluster):
            for child in psutil.Process(pid).children(recursive=True):
                try:
                    if child.status() != psutil.STATUS_ZOMBIE and not is_host(child):
                        left.append(child)
                except psutil.NoSuchProcess:
                    pass
        if not left or time.monotonic() > end:
            return left
        time.sleep(0.05)


def artifacts(root: Path, pathspec: str, step: str) -> list[dict[str, Any]]:
    """The artifacts of each task of ``step`` (latest attempts), by task id."""
    flow, run_id = pathspec.split("/")
    blobs = blob_store(root)
    found = []
    with metadata_store(root) as store:
        for task in sorted(store.list_tasks(flow, run_id, step), key=lambda t: int(t.task_id)):
            attempt = store.latest_attempt(flow, run_id, step, task.task_id)
            assert attempt is not None
            found.append(
                {
                    a.name: loads(blobs.get(a.sha))
                    for a in store.list_artifacts(
                        flow, run_id, step, task.task_id, attempt.attempt
                    )
                }
            )
    return found


def attempts(root: Path, pathspec: str, step: str) -> list[Any]:
    """Every attempt of the first task of ``step``."""
    flow, run_id = pathspec.split("/")
    with metadata_store(root) as store:
        [task] = store.list_tasks(flow, run_id, step)
        return list(store.list_attempts(flow, run_id, step, task.task_id))


def _run(flow: Path, **params: Any) -> Any:
    return Runner(str(flow), show_output=False).run(**params)


@pytest.mark.parametrize(
    ("flow", "params", "step", "check"),
    [
        pytest.param(
            "exec_linear.py", {}, "end", lambda a: a[0]["final"] == "start-a-b", id="linear"
        ),
        pytest.param("exec_branch.py", {}, "end", lambda a: a[0]["total"] == 33, id="branch"),
        pytest.param(
            "exec_foreach.py",
            {"n": 3},
            "join",
            lambda a: a[0]["squares"] == [0, 1, 4],
            id="foreach",
        ),
        pytest.param(
            "exec_nested.py",
            {},
            "join_outer",
            lambda a: a[0]["table"] == [["x1", "x2", "x3"], ["y1", "y2", "y3"]],
            id="nested-foreach",
        ),
    ],
)
def test_dag_shapes(
    tideflow_root: Path,
    flows_dir: Path,
    datastore: str,
    flow: str,
    params: dict[str, Any],
    step: str,
    check: Any,
) -> None:
    """Every DAG shape runs on the cluster and stores the same artifacts as locally, and
    the task logs are stored, in either datastore."""
    run = _run(flows_dir / flow, **params)
    assert run.status == "successful", run.stderr
    assert check(artifacts(tideflow_root, run._actor.pathspec, step))
    assert "Task finished successfully" in run.stdout
    # In S3, nothing of the run's data is stored under the local root.
    assert (tideflow_root / "blobs").is_dir() == (datastore == "local")


def test_cluster_object_from_python(
    tideflow_root: Path, flows_dir: Path, cluster: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runner(executor="dask", dask_address=<cluster>) runs there, with no variable set."""
    monkeypatch.delenv("TIDEFLOW_EXECUTOR")
    monkeypatch.delenv("TIDEFLOW_DASK_ADDRESS")
    runner = Runner(
        str(flows_dir / "exec_linear.py"), show_output=False, executor="dask", dask_address=cluster
    )
    run = runner.run()
    assert run.status == "successful", run.stderr
    assert artifacts(tideflow_root, run._actor.pathspec, "end")[0]["final"] == "start-a-b"
    with distributed.Client(cluster, set_as_default=False) as client:
        assert dask_address(client) == cluster.scheduler_address
    with pytest.raises(TypeError, match="dask_address must be a scheduler address"):
        Runner(str(flows_dir / "exec_linear.py"), dask_address=3)


def test_decorators(tideflow_root: Path, flows_dir: Path, datastore: str) -> None:
    """@retry, @catch, @environment and @resources (as Dask worker resources) work."""
    run = _run(flows_dir / "exec_decorated.py")
    assert run.status == "successful", run.stderr
    pathspec = run._actor.pathspec
    assert artifacts(tideflow_root, pathspec, "start")[0]["env_value"] == "from-the-decorator"
    assert artifacts(tideflow_root, pathspec, "flaky")[0]["attempt_seen"] == 1
    assert artifacts(tideflow_root, pathspec, "end")[0]["caught"] == "TaskException"
    [start] = attempts(tideflow_root, pathspec, "start")
    assert start.state == "succeeded"


def test_attempts_are_forks_of_a_warm_host(
    tideflow_root: Path, flows_dir: Path, cluster: Any
) -> None:
    """Each attempt is a fork of its flow's warm host on its worker: the flow's tasks,
    over two runs, run in processes of their own forked from at most one host per worker
    (the second run starts no host where the first left one)."""
    before = sum(w["hosts_started"] for w in host_stats(cluster).values())
    places: list[tuple[int, int]] = []
    for _ in range(2):
        run = _run(flows_dir / "dask_warm.py")
        assert run.status == "successful", run.stderr
        pathspec = run._actor.pathspec
        [join] = artifacts(tideflow_root, pathspec, "join")
        places += [
            *join["places"],
            *(
                a["where"]
                for step in ("start", "end")
                for a in artifacts(tideflow_root, pathspec, step)
            ),
        ]
    stats = host_stats(cluster)
    started = sum(w["hosts_started"] for w in stats.values()) - before
    assert 1 <= started <= len(stats)
    assert len({pid for pid, _ in places}) == len(places) == 12  # a process per task
    hosts = {parent for _, parent in places}
    assert len(hosts) == started
    assert hosts <= {pid for w in stats.values() for pid in w["host_pids"]}  # still warm
    assert hosts.isdisjoint(worker_pids(cluster))


def test_flow_whose_host_cannot_fork(flows_dir: Path) -> None:
    """A flow whose import starts a thread cannot be forked: its tasks get a fresh
    interpreter on the worker instead."""
    run = _run(flows_dir / "exec_threaded.py")
    assert run.status == "successful", run.stderr


def _most_at_once(windows: list[tuple[float, float]]) -> int:
    """The most windows open at the same instant."""
    edges = sorted([(start, 1) for start, _ in windows] + [(end, -1) for _, end in windows])
    most = current = 0
    for _, step in edges:
        current += step
        most = max(most, current)
    return most


def test_max_workers_caps_the_attempts_on_the_cluster(
    tideflow_root: Path, flows_dir: Path
) -> None:
    """max_workers caps the attempts in flight on the cluster (4 threads there) as it
    does locally: each branch's window lies inside its attempt, so no instant has more
    windows open than the cap (without it, the 4 branches of 0.3 s each would run at
    once on the cluster's 4 threads)."""
    runner = Runner(
        str(flows_dir / "fail_foreach_flow.py"), show_output=False, env={"BODY_SLEEP": "0.3"}
    )
    run = runner.run(max_workers=2)
    assert run.status == "successful", run.stderr
    windows = [tuple(a["window"]) for a in artifacts(tideflow_root, run._actor.pathspec, "body")]
    assert len(windows) == 4
    assert _most_at_once(windows) <= 2


def test_resume_on_the_cluster(
    tideflow_root: Path, flows_dir: Path, tmp_path: Path, datastore: str
) -> None:
    """A run whose foreach branch failed on the cluster resumes there: the branches that
    finished are cloned from the store (local or S3), the failed one runs again."""
    marker = tmp_path / "fixed"
    runner = Runner(
        str(flows_dir / "fail_foreach_flow.py"),
        show_output=False,
        env={"FAIL_ITEMS": "1", "FAIL_MARKER": str(marker), "FAIL_AFTER_OTHERS": "1"},
    )
    failed = runner.run()
    assert failed.status == "failed"
    assert "planned failure for item 1" in failed.stderr
    marker.touch()
    resumed = runner.resume()
    assert resumed.status == "successful", resumed.stderr
    pathspec = resumed._actor.pathspec
    assert pathspec != failed._actor.pathspec
    body = list(resumed.run["body"])
    cloned = sorted(t.index for t in body if t.origin_pathspec)
    assert cloned == [0, 2, 3]
    [join] = artifacts(tideflow_root, pathspec, "join")
    old, new = failed.run.id, resumed.run.id
    assert join["ran_in"] == [old, new, old, old]
    assert artifacts(tideflow_root, pathspec, "end")[0]["total"] == 0 + 1 + 4 + 9


def test_resources_no_worker_has(tideflow_root: Path, flows_dir: Path) -> None:
    """A step asking for more than any worker declares fails with a clear reason."""
    runner = Runner(
        str(flows_dir / "exec_linear.py"),
        show_output=False,
        decospecs=["resources:cpu=64"],
    )
    run = runner.run()
    assert run.status == "failed"
    assert "asks for @resources that no Dask worker has (CPU=64" in run.stderr


@pytest.mark.parametrize(
    ("how", "exit_code", "sig", "exception"),
    [
        ("raise", None, None, "RuntimeError"),
        ("exit", 3, None, "WorkerCrashed"),
        ("kill", None, signal.SIGKILL, "WorkerCrashed"),
    ],
)
def test_failures(
    tideflow_root: Path,
    flows_dir: Path,
    datastore: str,
    how: str,
    exit_code: int | None,
    sig: int | None,
    exception: str,
) -> None:
    """A step that raises, exits or is killed fails as it does locally, with its exit code
    or signal and its output."""
    run = _run(flows_dir / "exec_crash.py", how=how)
    assert run.status == "failed"
    [attempt] = attempts(tideflow_root, run._actor.pathspec, "start")
    assert attempt.state == "failed"
    assert attempt.exception is not None and attempt.exception.type == exception
    if exit_code is not None:
        assert attempt.exit_code == exit_code
    assert attempt.signal == sig
    assert "before the crash" in run.stdout


def test_output_capture(tideflow_root: Path, flows_dir: Path, datastore: str) -> None:
    """Prints, descriptor writes and child processes on the worker reach the console and
    the task's stored log."""
    run = _run(flows_dir / "exec_output.py")
    assert run.status == "successful", run.stderr
    lines = run.stdout.splitlines()
    printed = ("py-out", "fd-out", "child-out", "system-out", "unicode: h\u00e9llo")
    for line in printed:
        assert any(out.endswith(f"] {line}") for out in lines), line
    assert any(out.endswith("] no-newline") for out in lines)
    assert any(out.endswith("] child-err") for out in run.stderr.splitlines())
    start = run.run["start"].task
    assert set(start.stdout.splitlines()) >= {*printed, "no-newline"}
    assert set(start.stderr.splitlines()) >= {"py-err", "fd-err", "child-err"}


def _pids(path: Path) -> list[int]:
    return [int(p) for p in path.read_text().split()]


def test_timeout_stops_the_remote_tree(
    tideflow_root: Path, flows_dir: Path, tmp_path: Path, cluster: Any, datastore: str
) -> None:
    """A step over its @timeout is stopped on its worker with the process it started."""
    pid_file = tmp_path / "pids.txt"
    run = _run(flows_dir / "exec_timeout.py", pid_file=str(pid_file))
    assert run.status == "failed"
    assert "timed out" in run.stderr
    assert attempts(tideflow_root, run._actor.pathspec, "start")[0].state == "timeout"
    assert _gone(_pids(pid_file))
    assert worker_children(cluster) == []


async def test_stopped_run_leaves_nothing_on_the_workers(
    tideflow_root: Path, flows_dir: Path, tmp_path: Path, cluster: Any
) -> None:
    """Leaving the ExecutingRun mid-step stops the remote task and its child; a line the
    task printed reached the supervisor while it ran."""
    pid_file = tmp_path / "pids.txt"
    runner = Runner(str(flows_dir / "exec_slow.py"), show_output=False)
    go = tmp_path / "never"
    async with await runner.async_run(pid_file=str(pid_file), go_file=str(go)) as running:
        await anyio.to_thread.run_sync(wait_for_file, pid_file)
        async for _, line in running.stream_log("stdout"):
            if "waiting for the go file" in line:
                break
        host = psutil.Process(psutil.Process(_pids(pid_file)[0]).ppid())
        assert is_host(host)  # the task is a fork of the flow's warm host
    assert running.status != "successful"
    assert _gone(_pids(pid_file))
    assert await anyio.to_thread.run_sync(worker_children, cluster) == []
    assert host.is_running()  # it stays warm for the next run (until idle)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # a cluster of its own: once
async def test_worker_killed_mid_task_is_a_failed_attempt(
    tideflow_root: Path, flows_dir: Path, tmp_path: Path, own_cluster: Any
) -> None:
    """kill -9 of the worker running a task fails that attempt with the reason; @retry
    runs it again elsewhere, from the shipped code."""
    pid_file = tmp_path / "pids.txt"
    runner = Runner(str(flows_dir / "dask_worker_death.py"), show_output=False)
    async with await runner.async_run(pid_file=str(pid_file)) as running:
        await anyio.to_thread.run_sync(wait_for_file, pid_file)
        task_pid = _pids(pid_file)[0]
        # The task is a fork of a warm host below the worker: kill the worker itself.
        workers = await anyio.to_thread.run_sync(worker_pids, own_cluster)
        worker_pid = next(p.pid for p in psutil.Process(task_pid).parents() if p.pid in workers)
        os.kill(worker_pid, signal.SIGKILL)
        await running.wait(timeout=90)
    assert running.status == "successful", running.stderr
    pathspec = running.pathspec
    # On a loaded machine the restarting workers may lose one more attempt: @retry(times=2).
    first, *_, last = attempts(tideflow_root, pathspec, "start")
    assert first.state == "failed"
    assert first.exception is not None and first.exception.type == "WorkerCrashed"
    assert first.exception.message.endswith("died or left the cluster while it ran the task")
    assert last.state == "succeeded"
    [start] = artifacts(tideflow_root, pathspec, "start")
    assert start["survived_on"] >= 1
    assert str(flows_dir) not in start["where"]  # it ran from the code package
    assert _gone([task_pid])


def _gone(pids: list[int], within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while True:
        alive = [p for p in pids if psutil.pid_exists(p) and _not_zombie(p)]
        if not alive or time.monotonic() > deadline:
            return not alive
        time.sleep(0.05)


def _not_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.parametrize("how", ["script", "command line"])
def test_temporary_cluster_without_an_address(
    tideflow_root: Path, flows_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """With no address, a temporary cluster runs the tasks, in processes of their own
    (forks of a warm host), and stops with the supervisor, leaving no process behind. A
    script that calls Runner at its top level, with no ``__main__`` guard, starts its run
    once (Dask's worker processes would import it again, and run it again)."""
    monkeypatch.delenv("TIDEFLOW_DASK_ADDRESS")
    flow = flows_dir / "dask_warm.py"
    if how == "script":
        script = tmp_path / "script.py"
        script.write_text(
            "from tideflow import Runner\n"
            f"run = Runner({str(flow)!r}, show_output=False, executor='dask').run(n=3)\n"
            "print(run.status)\n"
        )
        command = [sys.executable, str(script)]
    else:
        command = [sys.executable, str(flow), "--executor", "dask", "run", "--n", "3"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    with metadata_store(tideflow_root) as store:
        [run] = store.list_runs("DaskWarmFlow")
    assert run.status == "succeeded"
    pathspec = f"DaskWarmFlow/{run.run_id}"
    [join] = artifacts(tideflow_root, pathspec, "join")
    places = [*join["places"], artifacts(tideflow_root, pathspec, "end")[0]["where"]]
    assert len({pid for pid, _ in places}) == 4  # a process per task
    hosts = {parent for _, parent in places}
    assert len(hosts) == 1  # the forks of the one warm host of the in-process worker
    assert _gone([pid for pid, _ in places] + sorted(hosts))


def test_temporary_cluster_has_this_machines_resources(
    flows_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The temporary cluster's worker declares this machine's CPUs, memory and GPUs, so
    @resources work there as they do locally, and a request larger than the machine
    fails saying so."""
    monkeypatch.delenv("TIDEFLOW_DASK_ADDRESS")
    flow = str(flows_dir / "exec_decorated.py")
    command = [sys.executable, flow, "--executor", "dask"]
    done = subprocess.run(
        [*command, "run"], capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stderr
    too_much = subprocess.run(
        [*command, "--with", "resources:cpu=100000", "run"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert too_much.returncode == 1
    assert "asks for @resources that no Dask worker has (CPU=100000" in too_much.stderr


def test_unreachable_scheduler_is_one_line_and_the_run_resumes(
    tideflow_root: Path, flows_dir: Path, cluster: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An address where no scheduler listens ends the run, after Dask's connect timeout,
    with one line naming the address and the fix (no traceback); once the address is
    right, the run resumes."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        nobody = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setenv("TIDEFLOW_DASK_ADDRESS", nobody)
    runner = Runner(str(flows_dir / "exec_linear.py"), show_output=False)
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        failed = runner.run()
    assert failed.status == "failed"
    [line] = [line for line in failed.stderr.splitlines() if "Workflow crashed" in line]
    assert f"Workflow crashed: Cannot reach the Dask scheduler at {nobody}: " in line
    assert line.endswith("Start it (dask scheduler) or fix TIDEFLOW_DASK_ADDRESS.")
    assert "Traceback" not in failed.stderr
    monkeypatch.setenv("TIDEFLOW_DASK_ADDRESS", cluster.scheduler_address)
    resumed = runner.resume()
    assert resumed.status == "successful", resumed.stderr
    assert artifacts(tideflow_root, resumed._actor.pathspec, "end")[0]["final"] == "start-a-b"


def test_scheduler_without_workers_is_one_line(
    flows_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scheduler that no worker joins within the wait ends the run with one line that
    says so and how to go on."""
    monkeypatch.setattr(_dask, "WORKER_TIMEOUT", 1.0)
    with distributed.LocalCluster(**local_cluster_options(n_workers=0)) as empty:
        monkeypatch.setenv("TIDEFLOW_DASK_ADDRESS", empty.scheduler_address)
        run = Runner(str(flows_dir / "exec_linear.py"), show_output=False).run()
    assert run.status == "failed"
    assert (
        f"Workflow crashed: The Dask scheduler at {empty.scheduler_address} has no worker: "
        f"none joined within 1 s. Start workers (dask worker {empty.scheduler_address}), "
        "then resume the run."
    ) in run.stderr
    assert "Traceback" not in run.stderr


def test_missing_extra_is_one_line() -> None:
    """Without dask.distributed, the dask executor names the extra to install."""
    code = (
        "import sys; sys.modules['distributed'] = None\n"
        "from tideflow._worker._dask import DaskExecutor\n"
        "try:\n    DaskExecutor()\nexcept Exception as exc:\n    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == (
        "The dask executor needs dask.distributed: install it with pip install 'tideflow[dask]'."
    )


def test_version_mismatch_is_refused() -> None:
    """Workers with another tideflow or Python are refused, naming both versions."""
    from tideflow._worker._dask_cluster import check_versions
    from tideflow._worker._dask_remote import versions

    check_versions({"tcp://a": versions()})
    with pytest.raises(TideflowError, match=r"runs tideflow 0\.0\.1 on Python 2\.7"):
        check_versions({"tcp://a": {"tideflow": "0.0.1", "python": "2.7"}})


def test_killed_supervisor_leaves_nothing_on_the_workers(
    tideflow_root: Path, flows_dir: Path, tmp_path: Path, cluster: Any
) -> None:
    """``run --executor dask`` killed with SIGKILL mid-step: the scheduler drops its tasks
    and the worker stops the remote task and the process it started."""
    pid_file = tmp_path / "pids.txt"
    command = [sys.executable, str(flows_dir / "exec_slow.py"), "--executor", "dask", "run"]
    supervisor = subprocess.Popen(
        [*command, "--pid_file", str(pid_file), "--go_file", str(tmp_path / "never")],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_file(pid_file, deadline=90)
    finally:
        supervisor.kill()
        supervisor.wait()
    assert _gone(_pids(pid_file), within=30)
    assert worker_children(cluster) == []


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # a cluster of its own: once
async def test_scheduler_stopped_mid_run(
    tideflow_root: Path, flows_dir: Path, tmp_path: Path, own_cluster: Any
) -> None:
    """A scheduler that goes away mid-step fails the attempt, saying so; its worker's
    task process does not stay behind."""
    pid_file = tmp_path / "pids.txt"
    runner = Runner(str(flows_dir / "exec_slow.py"), show_output=False)
    go = str(tmp_path / "never")
    async with await runner.async_run(pid_file=str(pid_file), go_file=go) as running:
        await anyio.to_thread.run_sync(wait_for_file, pid_file)
        await anyio.to_thread.run_sync(lambda: own_cluster.sync(own_cluster.scheduler.close))
        await running.wait(timeout=60)
    assert running.status == "failed"
    assert "the Dask task was cancelled" in running.stderr
    assert "lost the connection to the scheduler" in running.stderr, running.stderr
    assert _gone(_pids(pid_file), within=60)


def test_parallel_group_on_one_machine(tideflow_root: Path, flows_dir: Path) -> None:
    """@parallel: num_parallel Dask tasks, node 0 the control task, each knowing its place,
    all on the control task's machine (main_ip)."""
    run = _run(flows_dir / "parallel_flow.py", nodes=3)
    assert run.status == "successful", run.stderr
    pathspec = run._actor.pathspec
    train = artifacts(tideflow_root, pathspec, "train")
    [join] = artifacts(tideflow_root, pathspec, "join")
    control = train[0]["node"][3]
    assert join["nodes_seen"] == [(i, 3, "127.0.0.1", control) for i in range(3)]
    assert join["items"] == [0, 1, 2]
    assert len(join["pids"]) == 3


class _Sink:
    def __init__(self) -> None:
        self.pids: list[int] = []
        self.received: list[bytes] = []

    async def started(self, pid: int) -> None:
        self.pids.append(pid)

    async def lines(self, stream: str, lines: list[tuple[float, bytes]]) -> None:
        self.received.extend(text for _, text in lines)


@pytest.mark.parametrize("warm", [True, False], ids=["warm-host", "fresh-interpreter"])
async def test_attempt_with_and_without_warm_hosts(
    tmp_path: Path, flows_dir: Path, cluster: Any, warm: bool
) -> None:
    """DaskExecutor(warm_hosts=False) runs the attempt in a fresh interpreter on the
    worker (no host starts); with warm hosts it is a fork. Either way the output and the
    exit come back."""
    from tideflow._messages import TaskSpec
    from tideflow._worker._dask import DaskExecutor

    spec = TaskSpec(
        flow_name="CrashFlow",
        flow_source=str(flows_dir / "flow_crash.py"),
        flow_class="CrashFlow",
        root=str(tmp_path / ".tideflow"),
        run_id=f"warm-{warm}",
        step="start",
        task_id="1",
        attempt=0,
        parameters={"how": "exit"},
        parameters_refs=[],
        inputs=[],
    )
    before = await anyio.to_thread.run_sync(host_stats, cluster)
    executor = DaskExecutor(address=cluster.scheduler_address, warm_hosts=warm)
    sink = _Sink()
    try:
        outcome = await executor.run_task(spec, sink, env=dict(os.environ), cwd=str(tmp_path))
    finally:
        await executor.aclose()
    after = await anyio.to_thread.run_sync(host_stats, cluster)
    assert outcome.done is None
    assert outcome.returncode == 3
    assert sink.received == [b"before the end"]
    assert sink.pids == [outcome.pid]
    started = sum(w["hosts_started"] for w in after.values()) - sum(
        w["hosts_started"] for w in before.values()
    )
    assert started <= 1 if warm else started == 0


async def test_cancelled_batch_member_stops_only_its_own_task(
    tmp_path: Path, flows_dir: Path, cluster: Any
) -> None:
    """Attempts made ready together go to the cluster in one batch; cancelling one of
    them stops its processes on its worker and leaves the others running to their end."""
    from tideflow._messages import TaskSpec
    from tideflow._worker._dask import DaskExecutor

    go = tmp_path / "go"

    def spec(index: int) -> TaskSpec:
        return TaskSpec(
            flow_name="ExecSlowFlow",
            flow_source=str(flows_dir / "exec_slow.py"),
            flow_class="ExecSlowFlow",
            root=str(tmp_path / ".tideflow"),
            run_id="batch",
            step="start",
            task_id=str(index),
            attempt=0,
            parameters={"pid_file": str(tmp_path / f"pids-{index}"), "go_file": str(go)},
            parameters_refs=[],
            inputs=[],
        )

    executor = DaskExecutor(address=cluster.scheduler_address)
    # Connected and the code packed: the three attempts reach the cluster together.
    await executor.client()
    await executor._package(spec(0))
    outcomes: dict[int, Any] = {}
    scopes = {index: anyio.CancelScope() for index in range(3)}

    async def attempt(index: int) -> None:
        with scopes[index]:
            outcomes[index] = await executor.run_task(
                spec(index), _Sink(), env=dict(os.environ), cwd=str(tmp_path)
            )

    try:
        async with anyio.create_task_group() as tg:
            for index in range(3):
                tg.start_soon(attempt, index)
            for index in range(3):
                await anyio.to_thread.run_sync(wait_for_file, tmp_path / f"pids-{index}")
            assert (executor._submissions.batches, executor._submissions.items) == (1, 3)
            scopes[1].cancel()
            await anyio.to_thread.run_sync(wait_for_file, tmp_path / "pids-1")
            assert await anyio.to_thread.run_sync(_gone, _pids(tmp_path / "pids-1"))
            assert all(
                psutil.pid_exists(pid) for i in (0, 2) for pid in _pids(tmp_path / f"pids-{i}")
            )
            go.write_text("")
    finally:
        executor.run_ended("ExecSlowFlow", "batch")
        await executor.aclose()
    assert scopes[1].cancelled_caught
    assert sorted(outcomes) == [0, 2]
    assert all(o.done is not None and o.done.ok for o in outcomes.values()), outcomes


def test_an_attempt_sends_one_event_when_it_ends(
    tmp_path: Path, flows_dir: Path, cluster: Any
) -> None:
    """An attempt's worker events are its start, its lines and one outcome (no separate
    end event): what a second client subscribed to the executor's topic sees."""
    from tideflow._messages import TaskSpec
    from tideflow._worker._dask import DaskExecutor

    spec = TaskSpec(
        flow_name="CrashFlow",
        flow_source=str(flows_dir / "flow_crash.py"),
        flow_class="CrashFlow",
        root=str(tmp_path / ".tideflow"),
        run_id="events",
        step="start",
        task_id="1",
        attempt=0,
        parameters={"how": "exit"},
        parameters_refs=[],
        inputs=[],
    )
    kinds: list[str] = []

    async def attempt(executor: DaskExecutor) -> Any:
        try:
            return await executor.run_task(spec, _Sink(), env=dict(os.environ), cwd=str(tmp_path))
        finally:
            await executor.aclose()

    executor = DaskExecutor(address=cluster.scheduler_address)
    with distributed.Client(cluster, set_as_default=False) as probe:
        probe.subscribe_topic(executor._topic, lambda event: kinds.append(event[1]["k"]))
        outcome = anyio.run(attempt, executor)
        deadline = time.monotonic() + 30
        while "outcome" not in kinds and time.monotonic() < deadline:
            time.sleep(0.01)
    assert outcome.returncode == 3
    assert kinds == ["started", "lines", "outcome"]
