"""The tag rules of ``Run``: every one the reference page states, and the limits."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from tideflow import Flow, Run
from tideflow.exception import MetaflowTaggingError, TagError

if TYPE_CHECKING:
    from conftest import ClientRuns


def test_add_tag_and_add_tags(tag_run: Run) -> None:
    """Added tags are user tags, seen by a new Run object too."""
    tag_run.add_tag("production")
    tag_run.add_tags(["v2", "verified"])
    assert tag_run.user_tags == {"production", "v2", "verified"}
    assert Run(tag_run.pathspec).user_tags == {"production", "v2", "verified"}
    assert {"production", "v2", "verified"} <= tag_run.tags


def test_adding_a_system_tag_is_a_no_op(tag_run: Run) -> None:
    """A tag that is already a system tag is not added as a user tag, and no error."""
    tag_run.add_tag("runtime:dev")
    tag_run.add_tags(["user:tester", "fresh"])
    assert tag_run.user_tags == {"fresh"}
    assert {"runtime:dev", "user:tester"} <= tag_run.system_tags


def test_adding_twice_is_a_no_op(tag_run: Run) -> None:
    """Adding a tag the run already has changes nothing."""
    tag_run.add_tags(["a", "a"])
    tag_run.add_tag("a")
    assert tag_run.user_tags == {"a"}


def test_removing_a_system_tag_raises(tag_run: Run) -> None:
    """Removing a system tag is an error, and nothing changes."""
    tag_run.add_tag("keep")
    pattern = (
        rf"^Tag 'runtime:dev' of run '{re.escape(tag_run.pathspec)}' is a system tag and cannot "
        r"be removed\. Only user tags can be removed\.$"
    )
    with pytest.raises(TagError, match=pattern):
        tag_run.remove_tag("runtime:dev")
    with pytest.raises(MetaflowTaggingError, match=pattern):
        tag_run.remove_tags(["keep", "runtime:dev"])
    assert tag_run.user_tags == {"keep"}
    assert "runtime:dev" in Run(tag_run.pathspec).system_tags


def test_removing_a_missing_user_tag_is_a_no_op(tag_run: Run) -> None:
    """Removing a user tag the run does not have changes nothing."""
    tag_run.add_tag("here")
    tag_run.remove_tag("not-here")
    tag_run.remove_tags(["not-here", "here"])
    assert tag_run.user_tags == frozenset()


def test_replace_is_atomic(tag_run: Run) -> None:
    """replace_tag(s) removes, then adds, in one step: on an error nothing changes."""
    tag_run.add_tags(["old", "other"])
    tag_run.replace_tag("old", "new")
    assert tag_run.user_tags == {"new", "other"}
    tag_run.replace_tags(["new", "other"], ["new", "third"])
    assert tag_run.user_tags == {"new", "third"}
    with pytest.raises(TagError, match=r"^A tag cannot be empty\."):
        tag_run.replace_tags(["new"], ["fine", ""])
    with pytest.raises(TagError, match=r"^Tag 'runtime:dev' of run "):
        tag_run.replace_tag("runtime:dev", "fine")
    assert Run(tag_run.pathspec).user_tags == {"new", "third"}


def test_tag_length(tag_run: Run) -> None:
    """A tag is a non-empty string of at most 500 characters."""
    tag_run.add_tag("x" * 500)
    assert "x" * 500 in tag_run.user_tags
    with pytest.raises(
        TagError,
        match=r"^Tag 'yyyyyyyyyyyyyyyyyyyy\.\.\.' is 501 characters long\. Tags are non-empty "
        r"strings of at most 500 characters\.$",
    ):
        tag_run.add_tag("y" * 501)
    with pytest.raises(TagError, match=r"^A tag cannot be empty\. Tags are non-empty strings"):
        tag_run.add_tag("")
    with pytest.raises(TagError, match=r"^Tag 3 is not a string \(int\)\."):
        tag_run.add_tags([3])  # type: ignore[list-item]
    with pytest.raises(
        TagError, match=r"^Tags must be a list of strings, not a single str: pass \['ab'\]"
    ):
        tag_run.add_tags("ab")
    assert tag_run.user_tags == {"x" * 500}


def test_at_most_50_user_tags(tag_run: Run) -> None:
    """A run has at most 50 user tags; system tags do not count."""
    tag_run.add_tags([f"t{i}" for i in range(50)])
    assert len(tag_run.user_tags) == 50
    tag_run.add_tag("runtime:dev")
    with pytest.raises(
        TagError,
        match=rf"^Run '{re.escape(tag_run.pathspec)}' would have 51 user tags, but a run can "
        r"have at most 50\. Remove some tags first\.$",
    ):
        tag_run.add_tag("one-too-many")
    tag_run.replace_tag("t0", "swapped")
    assert len(tag_run.user_tags) == 50 and "swapped" in tag_run.user_tags


def test_tags_accept_any_iterable(tag_run: Run) -> None:
    """Generators and sets work as well as lists."""
    tag_run.add_tags(f"g{i}" for i in range(3))
    tag_run.remove_tags({"g0"})
    assert tag_run.user_tags == {"g1", "g2"}


def test_editing_tags_keeps_created_at(tag_run: Run) -> None:
    """Editing tags never changes when the run was created."""
    before = tag_run.created_at
    tag_run.add_tag("a")
    tag_run.replace_tag("a", "b")
    tag_run.remove_tag("b")
    assert tag_run.created_at == before == Run(tag_run.pathspec).created_at


def test_runs_filtered_by_tags(client_runs: ClientRuns, tag_run: Run) -> None:
    """runs(*tags) keeps the runs that carry every tag given, user or system."""
    tag_run.add_tags(["blue", "green"])
    flow = Flow("HelloFlow")
    assert list(flow.runs("blue")) == [tag_run]
    assert list(flow.runs("blue", "green", "runtime:dev")) == [tag_run]
    assert list(flow.runs("blue", "red")) == []
    assert list(Flow("ClientTrainFlow").runs("prod", "v1")) == [Run(client_runs.train)]


def test_step_tasks_filtered_by_tags(client_runs: ClientRuns) -> None:
    """A task carries its run's tags: step.tasks(*tags) keeps all or nothing."""
    step = Run(client_runs.train)["train_model"]
    assert len(list(step.tasks("prod"))) == 3
    assert list(step.tasks("prod", "nope")) == []
    assert [s.id for s in Run(client_runs.train).steps("ignored")][-1] == "start"


def test_a_list_where_one_tag_is_expected(tag_run: Run) -> None:
    """add_tag, remove_tag and replace_tag take one string; a list names the plural method."""
    for call, method in (
        (lambda: tag_run.add_tag(["a"]), "add_tag"),  # type: ignore[arg-type]
        (lambda: tag_run.remove_tag(["a"]), "remove_tag"),  # type: ignore[arg-type]
        (lambda: tag_run.replace_tag("a", ["b"]), "replace_tag"),  # type: ignore[arg-type]
    ):
        plural = method.replace("_tag", "_tags")
        with pytest.raises(
            TagError,
            match=rf"^{method}\(\) takes one tag, as a string, not list \['.'\]\. To pass "
            rf"several tags, call {plural}\(\[\.\.\.\]\)\.$",
        ):
            call()


def test_replace_tags_with_nothing_to_do(tag_run: Run) -> None:
    with pytest.raises(
        TagError,
        match=r"^replace_tags\(\) was given no tag to remove and no tag to add: pass at least "
        r"one\.$",
    ):
        tag_run.replace_tags([], [])
