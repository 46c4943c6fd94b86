"""A damaged artifact blob: an error naming the artifact and the file, never reused."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tideflow import Flow, Runner, namespace
from tideflow._exceptions import ArtifactError

HELLO = str(Path(__file__).resolve().parent.parent / "flows" / "hello_flow.py")


# The test damages a blob file of the local store; the conformance suite (tests/stores)
# checks the same rule for every datastore backend.
pytestmark = pytest.mark.skipif(
    bool(os.environ.get("TIDEFLOW_TEST_DATASTORE_URL")),
    reason="damages a file of the local blob folder; the datastore under test is remote",
)


def _blob(root: Path, sha: str) -> Path:
    return root / "blobs" / sha[:2] / sha[2:]


def test_a_damaged_blob_is_reported_then_repaired_by_a_later_run(tideflow_root: Path) -> None:
    with Runner(HELLO, show_output=False) as runner:
        first = runner.run().run
    namespace(None)
    sha = first["start"].task["message"].sha
    path = _blob(tideflow_root, sha)
    stored = path.read_bytes()
    path.write_bytes(stored[:-1] + b"?")  # same size, other bytes
    with pytest.raises(
        ArtifactError,
        match=rf"^Artifact 'message' cannot be loaded: Blob {sha} at {re.escape(str(path))} "
        r"is damaged: its bytes do not match their SHA-256 digest\. ",
    ):
        _ = Flow("HelloFlow")[first.id]["start"].task.data.message
    with Runner(HELLO, show_output=False) as runner:
        second = runner.run().run
    assert second.data.message == "hello"
    assert path.read_bytes() == stored
    assert Flow("HelloFlow")[first.id]["start"].task.data.message == "hello"
