"""Running one task attempt in this process: artifacts stored, inherited and refused.

:func:`tideflow._worker._task.execute` is what a worker process calls; here it runs the
step of a flow class of this module against a real blob store in a temporary folder.
"""

from __future__ import annotations

import pickle
import re
import threading
from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from tideflow import FlowSpec, Parameter, current, step
from tideflow._datastore._artifacts import dumps, loads
from tideflow._datastore._cas import LocalBlobStore
from tideflow._messages import ArtifactRef, ForeachFrame, InputTask, TaskDone, TaskSpec
from tideflow._worker._task import execute, rehearse
from tideflow.exception import (
    MergeArtifactsError,
    MergeArtifactsException,
    MissingInMergeArtifactsException,
    UnhandledInMergeArtifactsException,
)

if TYPE_CHECKING:
    from pathlib import Path


class Store:
    """A blob store in a temporary folder, and ways to fill it and read from it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = LocalBlobStore(root)

    def put(self, **values: Any) -> list[ArtifactRef]:
        refs = []
        for name, value in values.items():
            data = dumps(value, name)
            refs.append(ArtifactRef(name, self.blobs.put(data), len(data)))
        return refs

    def values(self, done: TaskDone) -> dict[str, Any]:
        return {ref.name: loads(self.blobs.get(ref.sha)) for ref in done.artifacts}

    def spec(
        self,
        step: str,
        *,
        inputs: list[InputTask] | None = None,
        parameters: dict[str, Any] | None = None,
        stack: list[ForeachFrame] | None = None,
        max_num_splits: int = 100,
    ) -> TaskSpec:
        parameters = parameters or {}
        return TaskSpec(
            flow_name="TaskFlow",
            flow_source="unused.py",
            flow_class="TaskFlow",
            root=str(self.root),
            run_id="1",
            step=step,
            task_id="7",
            attempt=0,
            parameters=parameters,
            parameters_refs=self.put(**parameters),
            inputs=inputs or [],
            stack=stack or [],
            username="tester",
            namespace="user:tester",
            max_num_splits=max_num_splits,
        )

    def task(self, step: str, **values: Any) -> InputTask:
        return InputTask(pathspec=f"TaskFlow/1/{step}/1", step=step, artifacts=self.put(**values))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / ".tideflow")


def failed(done: TaskDone) -> tuple[str, str]:
    assert not done.ok
    assert done.error is not None
    return done.error.type, done.error.message


class TaskFlow(FlowSpec):
    kind = Parameter("kind", default="plain")
    alpha = Parameter("alpha", default=0.5)

    @step
    def start(self):
        self.fine = "a plain value"
        self._private = threading.Lock()
        if self.kind == "lock":
            self.handle = threading.Lock()
        elif self.kind == "generator":
            self.handle = (n for n in range(3))
        elif self.kind == "raise":
            raise KeyError("missing thing")
        elif self.kind == "exit":
            raise SystemExit(3)
        elif self.kind == "alpha":
            self.alpha = 2.0
        self.seen = (current.pathspec, current.retry_count, current.is_running_flow)
        self.next(self.middle)

    @step
    def middle(self):
        self.read = self.fine
        if self.kind == "skip-next":
            return
        if self.kind == "twice":
            self.next(self.split)
        if self.kind == "missing":
            self.nope  # noqa: B018
        self.next(self.split)

    @step
    def split(self):
        self.items = 3 if self.kind == "bad-items" else [10, 20, 30]
        if self.kind == "no-items":
            del self.items
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.got = (self.input, self.index)
        self.stack = self.foreach_stack()
        self.next(self.join)

    @step
    def join(self, inputs):
        if self.kind == "no-such-input":
            inputs.elsewhere  # noqa: B018
        if self.kind == "include-missing":
            self.merge_artifacts(inputs, include=["absent"])
        if self.kind == "include-and-exclude":
            self.merge_artifacts(inputs, include=["got"], exclude=["items"])
        if self.kind == "conflict-caught":
            try:
                self.merge_artifacts(inputs)
            except UnhandledInMergeArtifactsException as exc:
                self.conflict = (type(exc).__name__, exc.artifact_names)
            self.merged_anything = [n for n in ("items", "same") if hasattr(self, n)]
        self.got = [task.got for task in inputs]
        self.merge_artifacts(inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


def test_artifacts_are_stored_and_private_names_are_not(store: Store) -> None:
    done = execute(store.spec("start", parameters={"kind": "plain", "alpha": 0.5}), TaskFlow)
    assert done.ok, done.error
    assert store.values(done) == {
        "kind": "plain",
        "alpha": 0.5,
        "fine": "a plain value",
        "seen": ("TaskFlow/1/start/7", 0, True),
    }
    assert done.transition is not None
    assert done.transition.targets == ("middle",)
    # `current` is only set while the step runs.
    assert not current.is_running_flow


@pytest.mark.parametrize(
    ("kind", "reason"),
    [("lock", "cannot pickle '_thread.lock' object"), ("generator", "cannot pickle 'generator'")],
)
def test_unpicklable_artifact_fails_naming_it(store: Store, kind: str, reason: str) -> None:
    done = execute(store.spec("start", parameters={"kind": kind}), TaskFlow)
    error_type, message = failed(done)
    assert error_type.endswith("ArtifactError")
    assert re.match(rf"^Artifact 'handle' cannot be pickled: TypeError: {reason}", message)
    assert message.endswith(
        "Store a picklable value, or give the attribute a name starting with '_' so it is "
        "not stored."
    )
    assert done.artifacts == []


def test_exception_in_a_step_is_reported_with_its_traceback(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    done = execute(store.spec("start", parameters={"kind": "raise"}), TaskFlow)
    assert failed(done) == ("KeyError", "'missing thing'")
    assert done.error is not None
    traceback = done.error.traceback
    # The traceback starts at the step, not in tideflow's own machinery.
    assert re.match(
        r'^Traceback \(most recent call last\):\n  File ".*test_task\.py", line \d+, in start\n',
        traceback,
    )
    assert traceback.endswith("KeyError: 'missing thing'\n")
    # The worker also writes it to the task's stderr, so it lands in the log.
    assert capsys.readouterr().err == traceback


def test_system_exit_in_a_step_fails_the_task(store: Store) -> None:
    done = execute(store.spec("start", parameters={"kind": "exit"}), TaskFlow)
    assert failed(done) == ("SystemExit", "3")


def test_parameters_cannot_be_assigned_in_a_step(store: Store) -> None:
    done = execute(store.spec("start", parameters={"kind": "alpha"}), TaskFlow)
    assert failed(done) == (
        "AttributeError",
        (
            "Parameter 'alpha' is read-only: assign the value to an attribute with another name "
            "instead."
        ),
    )


def test_inherited_artifacts_are_kept_by_reference(store: Store) -> None:
    parent = store.task("start", fine="from start", kind="plain", untouched=[1, 2])
    done = execute(store.spec("middle", inputs=[parent], parameters={"kind": "plain"}), TaskFlow)
    assert done.ok, done.error
    refs = {ref.name: ref for ref in done.artifacts}
    inherited = {ref.name: ref for ref in parent.artifacts}
    # Read but unchanged, or never read: the same blob as the parent's.
    assert refs["untouched"] == inherited["untouched"]
    assert refs["fine"] == inherited["fine"]
    assert store.values(done)["read"] == "from start"


def test_a_step_that_skips_self_next_at_run_time(store: Store) -> None:
    parent = store.task("start", fine="x")
    done = execute(
        store.spec("middle", inputs=[parent], parameters={"kind": "skip-next"}), TaskFlow
    )
    error_type, message = failed(done)
    assert error_type.endswith("FlowDefinitionError")
    assert re.match(
        r"^step 'middle' in .*test_task\.py, line \d+: Step 'middle' finished without calling "
        r"self\.next\(\)\. Make sure every path through the step ends with "
        r"self\.next\(self\.split\)\.$",
        message,
    )


def test_a_missing_self_next_points_at_the_users_step(store: Store) -> None:
    """The traceback of a step that returned without self.next() is the user's step (its
    file and ``def`` line), not tideflow's own frames."""
    parent = store.task("start", fine="x")
    done = execute(
        store.spec("middle", inputs=[parent], parameters={"kind": "skip-next"}), TaskFlow
    )
    assert done.error is not None
    lines = done.error.traceback.splitlines()
    line = TaskFlow.middle.__code__.co_firstlineno + 1  # below @step
    assert lines[:3] == [
        "Traceback (most recent call last):",
        f'  File "{__file__}", line {line}, in middle',
        "    def middle(self):",
    ]
    assert lines[3].startswith("tideflow.exception.FlowDefinitionError: step 'middle' in ")
    assert "tideflow/_worker" not in done.error.traceback


def test_self_next_called_twice(store: Store) -> None:
    parent = store.task("start", fine="x")
    done = execute(store.spec("middle", inputs=[parent], parameters={"kind": "twice"}), TaskFlow)
    assert re.match(
        r"^step 'middle': self\.next\(\) was called twice: a step calls it once, as its last "
        r"line\.$",
        failed(done)[1],
    )


def test_reading_a_missing_artifact(store: Store) -> None:
    parent = store.task("start", fine="x")
    done = execute(store.spec("middle", inputs=[parent], parameters={"kind": "missing"}), TaskFlow)
    assert failed(done) == (
        "AttributeError",
        "Flow TaskFlow has no attribute or artifact 'nope' in step 'middle'.",
    )


def test_foreach_split_reports_its_size(store: Store) -> None:
    done = execute(store.spec("split", parameters={"kind": "plain"}), TaskFlow)
    assert done.ok, done.error
    assert done.transition is not None
    assert (done.transition.foreach, done.transition.num_splits) == ("items", 3)


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        (
            "bad-items",
            (
                r"^step 'split': The foreach variable 'items' holds a value of type int, which has no "
                r"length: use a list or another sequence\.$"
            ),
        ),
        (
            "no-items",
            (
                r"^step 'split': foreach='items' names no attribute: set self\.items to a list before "
                r"calling self\.next\(\)\.$"
            ),
        ),
    ],
)
def test_bad_foreach_variable(store: Store, kind: str, message: str) -> None:
    done = execute(store.spec("split", parameters={"kind": kind}), TaskFlow)
    assert re.match(message, failed(done)[1]), failed(done)


def test_foreach_limit(store: Store) -> None:
    """The error names --max-num-splits; its traceback is the user's self.next() line."""
    done = execute(store.spec("split", parameters={"kind": "plain"}, max_num_splits=2), TaskFlow)
    assert failed(done)[1] == (
        "Step 'split' starts a foreach over 3 items, more than the limit of 2. Raise it with "
        "--max-num-splits 3 (or max_num_splits=3 in Runner.run())."
    )
    assert done.error is not None
    lines = done.error.traceback.splitlines()
    assert lines[1].startswith(f'  File "{__file__}", line ') and lines[1].endswith(" in split")
    assert lines[2] == '    self.next(self.body, foreach="items")'
    assert "tideflow/_worker" not in done.error.traceback


def test_foreach_body_sees_input_and_index(store: Store) -> None:
    parent = store.task("split", items=[10, 20, 30])
    frame = ForeachFrame("split", "items", 1, 3, parent.artifacts[0].sha)
    done = execute(store.spec("body", inputs=[parent], stack=[frame]), TaskFlow)
    assert done.ok, done.error
    assert store.values(done)["got"] == (20, 1)


@pytest.mark.parametrize(
    ("items", "expected"),
    [((10, 20, 30), 20), ({"a": 1, "b": 2, "c": 3}, "b"), ("xyz", "y"), (range(5, 8), 6)],
)
def test_foreach_over_other_sequences(store: Store, items: Any, expected: Any) -> None:
    parent = store.task("split", items=items)
    frame = ForeachFrame("split", "items", 1, 3, parent.artifacts[0].sha)
    done = execute(store.spec("body", inputs=[parent], stack=[frame]), TaskFlow)
    assert done.ok, done.error
    assert store.values(done)["got"] == (expected, 1)


def test_foreach_stack_of_a_nested_foreach(store: Store) -> None:
    outer = store.task("split", items=["a", "b"], inner=[10, 20, 30])
    frames = [
        ForeachFrame("split", "items", 1, 2, outer.artifacts[0].sha),
        ForeachFrame("split", "inner", 2, 3, outer.artifacts[1].sha),
    ]
    flow = TaskFlow._tf_for_task(step="body", parameters={}, source=None, stack=frames)
    # Without a way to load items (outside a worker), items are None.
    assert flow.foreach_stack() == [(1, 2, None), (2, 3, None)]
    done = execute(store.spec("body", inputs=[outer], stack=frames), TaskFlow)
    assert done.ok, done.error
    assert store.values(done)["got"] == (30, 2)
    assert store.values(done)["stack"] == [(1, 2, "b"), (2, 3, 30)]


def join_inputs(store: Store) -> list[InputTask]:
    return [
        store.task("body", got=(10, 0), items=[10, 20], same="equal"),
        store.task("body", got=(20, 1), items=[10, 20], same="equal"),
    ]


def test_merge_artifacts_is_all_or_nothing(store: Store) -> None:
    """A conflict raises UnhandledInMergeArtifactsException (a MergeArtifactsException,
    and the older MergeArtifactsError) naming the artifacts, and merges nothing."""
    spec = store.spec("join", inputs=join_inputs(store), parameters={"kind": "conflict-caught"})
    done = execute(spec, TaskFlow)
    assert done.ok, done.error
    values = store.values(done)
    assert values["conflict"] == ("UnhandledInMergeArtifactsException", ["got"])
    assert values["merged_anything"] == []
    assert issubclass(UnhandledInMergeArtifactsException, MergeArtifactsException)
    assert issubclass(MissingInMergeArtifactsException, MergeArtifactsError)
    assert MergeArtifactsException is MergeArtifactsError
    error = UnhandledInMergeArtifactsException("differ: x", ["x"])
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.artifact_names) == ("differ: x", ["x"])


def test_join_merges_what_agrees(store: Store) -> None:
    done = execute(store.spec("join", inputs=join_inputs(store)), TaskFlow)
    assert done.ok, done.error
    values = store.values(done)
    assert values["got"] == [(10, 0), (20, 1)]
    assert values["items"] == [10, 20]
    assert values["same"] == "equal"


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        (
            "no-such-input",
            (
                r"^This join has no input from a step named 'elsewhere'; its inputs come from: "
                r"body\.$"
            ),
        ),
        (
            "include-missing",
            (
                r"^merge_artifacts\(include=\.\.\.\) names artifact\(s\) no input has: absent\. "
                r"Nothing was merged\.$"
            ),
        ),
        (
            "include-and-exclude",
            r"^step 'join': merge_artifacts\(\) takes include or exclude, not both\.$",
        ),
    ],
)
def test_join_errors(store: Store, kind: str, message: str) -> None:
    done = execute(
        store.spec("join", inputs=join_inputs(store), parameters={"kind": kind}), TaskFlow
    )
    assert re.match(message, failed(done)[1]), failed(done)


def test_a_rehearsal_runs_no_step_and_writes_nothing(store: Store) -> None:
    """What a fork host and its spare child do ahead of a task: the machinery around the
    step, with the step not run and nothing written to the store."""
    spec = store.spec("start", parameters={"kind": "raise"})
    before = sorted(store.root.rglob("*"))
    done = rehearse(spec, TaskFlow)
    assert done is not None and done.ok
    assert sorted(store.root.rglob("*")) == before  # the step (which raises) did not run
    assert rehearse(spec, None) is None
    assert rehearse(msgspec.structs.replace(spec, step="no_such_step"), TaskFlow) is None
