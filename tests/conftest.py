"""Fixtures shared by the whole suite.

Async tests run once per anyio backend (asyncio and trio). Tests that touch the stores use
``tideflow_root`` so that every run they start lands in a fresh folder of their own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

FLOWS_DIR = Path(__file__).parent / "flows"


@pytest.fixture(params=[pytest.param("asyncio"), pytest.param("trio")])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run each async test on asyncio and on trio."""
    backend: str = request.param
    return backend


@pytest.fixture
def tideflow_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point tideflow at an empty store under ``tmp_path`` and work from ``tmp_path``.

    Sets ``TIDEFLOW_ROOT`` and ``TIDEFLOW_USER`` (to ``tester``) and returns the root folder,
    which does not exist yet: the stores create it on their first write.
    """
    root = tmp_path / ".tideflow"
    monkeypatch.setenv("TIDEFLOW_ROOT", str(root))
    monkeypatch.setenv("TIDEFLOW_USER", "tester")
    monkeypatch.chdir(tmp_path)
    return root


@pytest.fixture
def flows_dir() -> Path:
    """The folder of small example flows used by the tests."""
    return FLOWS_DIR
