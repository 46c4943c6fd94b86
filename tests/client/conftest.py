"""Real runs for the client tests, made once for the whole package.

Every test here reads the same store: a few runs of the ``client_*`` flows in
``tests/flows``, started with ``Runner`` (and one with the command line). The store is
named by ``TIDEFLOW_ROOT`` and the user is ``tester``, for the whole package. Tests that
change tags use the ``tag_run``, whose user tags are cleared before each of them.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from postgres_server import family_metadata_url
from tideflow import Run, Runner, default_namespace

if TYPE_CHECKING:
    from collections.abc import Iterator

FLOWS = Path(__file__).resolve().parent.parent / "flows"


@dataclasses.dataclass(frozen=True)
class ClientRuns:
    """Pathspecs of the runs the client tests read."""

    root: Path
    #: ClientTrainFlow by ``tester``, tagged ``prod`` and ``v1``.
    train: str
    #: ClientTrainFlow by ``other``, newer than ``train``.
    other_train: str
    #: ClientRetryFlow by ``tester``: start failed at attempt 0, succeeded at attempt 1.
    retry: str
    #: ClientFailFlow by ``tester``: start raised RuntimeError('boom').
    fail: str
    #: ClientRetryFlow by ``tester``, ``retry`` resumed from ``end``: ``start`` is cloned.
    resumed: str
    #: HelloFlow by ``tester``, started from the command line; tag tests edit its tags.
    hello: str
    #: Where the metadata is (``TIDEFLOW_TEST_METADATA=postgres``), else ``None``: SQLite.
    metadata_url: str | None = None


async def _run_all(specs: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Start the runs one after the other (so their ids are in this order), let them run
    at the same time, and wait for them all."""
    started = []
    for flow, options in specs:
        username = options.pop("username", None)
        extra = {} if username is None else {"username": username}
        runner = Runner(str(FLOWS / flow), show_output=False, **extra)
        started.append(await runner.async_run(**options))
    for running in started:
        async with running:
            await running.wait()
    pathspecs = [running.run.pathspec for running in started]
    retry = next(p for p in pathspecs if p.startswith("ClientRetryFlow/"))
    runner = Runner(str(FLOWS / "client_retry_flow.py"), show_output=False)
    resumed = await runner.async_resume(origin_run_id=retry.split("/")[1], step_to_rerun="end")
    async with resumed:
        await resumed.wait()
    return [*pathspecs, resumed.run.pathspec]


def _cli_run(flow: str) -> str:
    done = subprocess.run(
        [sys.executable, str(FLOWS / flow), "run"],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ.copy(),
    )
    return done.stdout.split("See the run with Run('")[1].split("')")[0]


@pytest.fixture(scope="package")
def client_runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ClientRuns]:
    """The runs above, in a store of their own (``TIDEFLOW_ROOT``), as user ``tester``."""
    from s3server import use_suite_datastore

    folder = tmp_path_factory.mktemp("client")
    root = folder / ".tideflow"
    url = family_metadata_url(request)
    with pytest.MonkeyPatch.context() as patch:
        use_suite_datastore(request, patch)
        if url:  # for making the runs only: each test sets it again (_metadata_url)
            patch.setenv("TIDEFLOW_METADATA_URL", url)
        patch.setenv("TIDEFLOW_ROOT", str(root))
        patch.setenv("TIDEFLOW_USER", "tester")
        patch.chdir(folder)
        train, other_train, retry, fail, resumed = anyio.run(
            _run_all,
            [
                ("client_train_flow.py", {"tags": ["prod", "v1"]}),
                ("client_train_flow.py", {"username": "other", "alpha": 2.0}),
                ("client_retry_flow.py", {}),
                ("client_fail_flow.py", {}),
            ],
        )
        runs = ClientRuns(
            root=root,
            train=train,
            other_train=other_train,
            retry=retry,
            fail=fail,
            resumed=resumed,
            hello=_cli_run("hello_flow.py"),
            metadata_url=url,
        )
        patch.delenv("TIDEFLOW_METADATA_URL", raising=False)
        yield runs


@pytest.fixture(autouse=True)
def _metadata_url(client_runs: ClientRuns, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test reads the metadata store the runs were written to."""
    if client_runs.metadata_url:
        monkeypatch.setenv("TIDEFLOW_METADATA_URL", client_runs.metadata_url)


@pytest.fixture(autouse=True)
def _default_namespace(client_runs: ClientRuns) -> Iterator[None]:
    """Every test starts and ends in the default namespace, ``user:tester``."""
    default_namespace()
    yield
    default_namespace()


@pytest.fixture
def tag_run(client_runs: ClientRuns) -> Run:
    """The HelloFlow run, with no user tags."""
    run = Run(client_runs.hello)
    if run.user_tags:
        run.remove_tags(run.user_tags)
    return run
