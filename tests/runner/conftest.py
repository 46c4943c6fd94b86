"""Fixtures for the Runner tests: flow files copied where the guide's snippets expect them.

Every test here works in a fresh folder (``tideflow_root`` changes into it) that holds
``slowflow.py``, the guide's SlowFlow ten times faster (``tests/flows/runner_slowflow.py``).

The tests use the ``fork`` executor unless they ask for one (the ``executor`` fixture of
``tests/executors.py`` runs a test on each): runs start in milliseconds instead of a
fresh interpreter's hundreds, which keeps the suite short. Behaviour that depends on how
processes start (stopping a process tree, environments, many runs at once) is tested on
both executors.

With ``TIDEFLOW_TEST_EXECUTOR=dask`` in the environment, the tests that choose no executor
run on the ``dask`` executor instead, on a local cluster of two worker processes started
once for the session (as ``TIDEFLOW_TEST_METADATA`` does for the metadata store): a check
that the dask executor behaves as the local ones do for everything the Runner offers.
"""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING

import pytest

from executors import EXECUTORS

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

#: The executor used when a test does not choose one.
DEFAULT_EXECUTOR = os.environ.get("TIDEFLOW_TEST_EXECUTOR") or (
    "fork" if "fork" in EXECUTORS else "spawn"
)


@pytest.fixture(scope="session")
def _dask_address() -> Iterator[str]:
    """A local Dask cluster for the session (``TIDEFLOW_TEST_EXECUTOR=dask``)."""
    distributed = pytest.importorskip("distributed")
    from tideflow._worker._dask_cluster import local_cluster_options

    options = local_cluster_options(n_workers=2, threads_per_worker=2, silence_logs=40)
    with distributed.LocalCluster(**options) as cluster:
        yield str(cluster.scheduler_address)


@pytest.fixture(autouse=True)
def _fast_executor(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if DEFAULT_EXECUTOR == "dask":
        monkeypatch.setenv("TIDEFLOW_DASK_ADDRESS", request.getfixturevalue("_dask_address"))
    monkeypatch.setenv("TIDEFLOW_EXECUTOR", DEFAULT_EXECUTOR)


@pytest.fixture
def workdir(tideflow_root: Path, flows_dir: Path) -> Path:
    """The test's working folder, holding ``slowflow.py`` (and a fresh store)."""
    folder = tideflow_root.parent
    shutil.copy(flows_dir / "runner_slowflow.py", folder / "slowflow.py")
    return folder
