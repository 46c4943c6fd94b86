"""The declaration of the client: each query once, both faces built from it by one rule."""

from __future__ import annotations

import inspect
import pydoc
from typing import TYPE_CHECKING, Any

import pytest

from tideflow import (
    AsyncDataArtifact,
    AsyncFlow,
    AsyncRun,
    AsyncStep,
    AsyncTask,
    DataArtifact,
    Flow,
    Run,
    Step,
    Task,
)
from tideflow._client._queries import (
    Children,
    Held,
    Listing,
    Method,
    Read,
    Values,
    declared,
    read,
)

if TYPE_CHECKING:
    from conftest import ClientRuns

PAIRS = [
    (Flow, AsyncFlow),
    (Run, AsyncRun),
    (Step, AsyncStep),
    (Task, AsyncTask),
    (DataArtifact, AsyncDataArtifact),
]


def _async_kind(value: Any) -> str:
    if isinstance(value, property):
        return "property"
    if inspect.isasyncgenfunction(value):
        return "async iterator"
    if inspect.iscoroutinefunction(value):
        return "coroutine"
    return type(value).__name__


#: What each kind of declaration is on the blocking face, and its async name and kind.
RULE: dict[type, tuple[str, str, str]] = {
    Held: ("property", "{}", "property"),
    Read: ("property", "fetch_{}", "coroutine"),
    Values: ("property", "fetch_{}", "coroutine"),
    Children: ("property", "{}", "async iterator"),
    Listing: ("function", "{}", "async iterator"),
    Method: ("function", "{}", "coroutine"),
}


@pytest.mark.parametrize(("blocking", "twin"), PAIRS, ids=[p[0].__name__ for p in PAIRS])
def test_every_query_has_its_twin_by_the_rule(blocking: type, twin: type) -> None:
    """Each declared query is on both faces, named and shaped as the rule says."""
    queries = declared(blocking)
    assert queries, f"{blocking.__name__} declares no query"
    for name, query in queries.items():
        sync_kind, async_name, async_kind = RULE[type(query)]
        value = inspect.getattr_static(blocking, name)
        assert type(value).__name__ == sync_kind, (name, value)
        assert (value.__doc__ or "").strip() == query.doc and query.doc, name
        async_value = inspect.getattr_static(twin, async_name.format(name))
        assert _async_kind(async_value) == async_kind, (name, async_value)
        assert async_value.__doc__ == value.__doc__, name


def test_the_names_of_the_async_face() -> None:
    """A few names of each kind, as the client guide lists them."""
    assert inspect.iscoroutinefunction(AsyncRun.fetch_successful)
    assert inspect.iscoroutinefunction(AsyncTask.fetch_stdout)
    assert inspect.iscoroutinefunction(AsyncRun.add_tag)
    assert inspect.iscoroutinefunction(AsyncRun.is_in_namespace)
    assert inspect.isasyncgenfunction(AsyncFlow.runs)
    assert inspect.isasyncgenfunction(AsyncStep.control_tasks)
    assert inspect.isasyncgenfunction(AsyncTask.loglines)
    assert isinstance(inspect.getattr_static(AsyncTask, "index"), property)
    assert not hasattr(AsyncRun, "successful") and not hasattr(Run, "fetch_successful")


def test_signatures_and_help() -> None:
    """Methods show the parameters of what answers them; help() shows every docstring."""
    assert str(inspect.signature(Run.add_tag)) == "(self, tag: 'str') -> 'None'"
    assert str(inspect.signature(AsyncRun.replace_tag)).startswith(
        "(self, tag_to_remove: 'str', tag_to_add: 'str')"
    )
    assert list(inspect.signature(Task.loglines).parameters) == [
        "self",
        "stream",
        "as_unicode",
        "meta_dict",
    ]
    assert inspect.signature(Task.loglines).return_annotation is inspect.Signature.empty
    for blocking, twin in PAIRS:
        text = pydoc.render_doc(blocking, renderer=pydoc.plaintext)
        async_text = pydoc.render_doc(twin, renderer=pydoc.plaintext)
        for name, query in declared(blocking).items():
            first_line = query.doc.splitlines()[0]
            assert f" |  {name}\n |      {first_line}" in text or f" |  {name}(" in text, name
            assert first_line in async_text, name


async def test_the_wrong_face_says_the_right_name(client_runs: ClientRuns) -> None:
    """Reaching for the other face's name says what to write instead."""
    run = Run(client_runs.train)
    with pytest.raises(AttributeError, match=r"fetch_successful\(\) is the async client's"):
        run.fetch_successful  # noqa: B018
    with pytest.raises(AttributeError, match=r"^'Run' object has no attribute 'nope'$"):
        run.nope  # type: ignore[attr-defined]  # noqa: B018
    arun = await AsyncRun(client_runs.train)
    with pytest.raises(AttributeError, match=r"`await obj.fetch_successful\(\)`"):
        arun.successful  # noqa: B018
    with pytest.raises(AttributeError, match=r"^'AsyncRun' object has no attribute 'nope'$"):
        arun.nope  # noqa: B018


class CountedRun(Run):
    """A run that also counts its steps: one declaration, both faces."""

    __slots__ = ()
    step_count: Read[int] = read(lambda node: len(node.steps()), "How many steps the run has.")


class AsyncCountedRun(AsyncRun, twin=CountedRun):
    """The async twin of :class:`CountedRun`."""

    __slots__ = ()


async def test_one_declaration_gives_both_faces(client_runs: ClientRuns) -> None:
    """Adding a query is one line: the blocking class and its twin both have it, and
    objects they hand out stay of the library's own classes."""
    run = CountedRun(client_runs.train)
    assert run.step_count == 4 and run.successful
    arun = await AsyncCountedRun(client_runs.train)
    assert await arun.fetch_step_count() == 4 and await arun.fetch_successful()
    assert type(run.end_task) is Task and type(await arun.fetch_end_task()) is AsyncTask
    assert "step_count" in declared(CountedRun) and "step_count" not in declared(Run)
    assert CountedRun.step_count.__doc__ == "How many steps the run has."


async def test_both_faces_answer_alike(client_runs: ClientRuns) -> None:
    """Every read query of a task gives the same answer on both faces (objects compared
    by pathspec, iterators as lists)."""
    pathspec = f"{client_runs.train}/train_model"
    task = next(iter(Step(pathspec)))
    atask = await AsyncTask(task.pathspec)
    for name, query in declared(Task).items():
        if not isinstance(query, Read) or isinstance(query, Values) or name == "metadata":
            continue
        mine, theirs = getattr(task, name), await getattr(atask, f"fetch_{name}")()
        if name == "artifacts":
            mine, theirs = [a.pathspec for a in mine], [a.pathspec for a in theirs]
        elif not isinstance(mine, (str, int, dict, type(None))) and hasattr(mine, "__iter__"):
            mine = [getattr(x, "pathspec", x) for x in mine]
            theirs = [getattr(x, "pathspec", x) for x in theirs]
        assert mine == theirs or str(mine) == str(theirs), name
