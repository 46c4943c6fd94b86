"""Namespaces: which runs the client sees, and the error for one it does not."""

from __future__ import annotations

import os
import re
import threading
from typing import TYPE_CHECKING

import pytest

from tideflow import (
    AsyncFlow,
    AsyncFlows,
    DataArtifact,
    Flow,
    Flows,
    Metaflow,
    Run,
    Step,
    Task,
    default_namespace,
    get_namespace,
    namespace,
)
from tideflow._client._state import client_state
from tideflow.exception import MetaflowNamespaceMismatch, NamespaceMismatch, TideflowError

if TYPE_CHECKING:
    from conftest import ClientRuns


def mismatch(kind: str, pathspec: str, ns: str, hint: str = "user:other") -> str:
    """The anchored pattern of the namespace error for one object."""
    return (
        rf"^{kind} '{re.escape(pathspec)}' is not in the current namespace '{ns}'\. Call namespace\(None\) "
        rf"to see objects of every namespace, or namespace\('{hint}'\) to see this run's "
        r"namespace\.$"
    )


def test_default_namespace_is_the_user(client_runs: ClientRuns) -> None:
    """The default namespace is ``user:<TIDEFLOW_USER>``."""
    assert get_namespace() == "user:tester"
    assert default_namespace() == "user:tester"


def test_namespace_returns_what_it_set(client_runs: ClientRuns) -> None:
    """namespace() returns the namespace it switched to; default_namespace() goes back."""
    assert namespace("user:other") == "user:other"
    assert get_namespace() == "user:other"
    assert namespace(None) is None
    assert get_namespace() is None
    assert default_namespace() == "user:tester" == get_namespace()


def test_objects_outside_the_namespace_raise(client_runs: ClientRuns) -> None:
    """Another user's run, step, task and artifact raise NamespaceMismatch."""
    run = client_runs.other_train
    for cls, pathspec in [
        (Run, run),
        (Step, f"{run}/start"),
        (Task, f"{run}/start/1"),
        (DataArtifact, f"{run}/start/1/params"),
    ]:
        with pytest.raises(
            NamespaceMismatch, match=mismatch(cls.__name__, pathspec, "user:tester")
        ):
            cls(pathspec)
    with pytest.raises(MetaflowNamespaceMismatch):
        Run(run)


def flow_mismatch(flow: str, ns: str) -> str:
    """The anchored pattern of the namespace error for a flow."""
    return (
        rf"^Flow '{flow}' has no run in the current namespace '{ns}'\. Call namespace\(None\) "
        r"to see objects of every namespace\.$"
    )


def test_a_flow_outside_the_namespace_raises(client_runs: ClientRuns) -> None:
    """Flow(name) raises NamespaceMismatch when no run of the flow is in the namespace:
    another user's flow, or a namespace nobody is in; namespace(None) sees every flow."""
    namespace("user:nobody")
    with pytest.raises(NamespaceMismatch, match=flow_mismatch("ClientTrainFlow", "user:nobody")):
        Flow("ClientTrainFlow")
    namespace("user:other")
    assert Flow("ClientTrainFlow").name == "ClientTrainFlow"
    with pytest.raises(NamespaceMismatch, match=flow_mismatch("ClientFailFlow", "user:other")):
        Flow("ClientFailFlow")
    namespace(None)
    assert Flow("ClientFailFlow").name == "ClientFailFlow"


async def test_an_async_flow_outside_the_namespace_raises(client_runs: ClientRuns) -> None:
    """AsyncFlow checks the namespace as Flow does, when awaited."""
    namespace("user:nobody")
    with pytest.raises(NamespaceMismatch, match=flow_mismatch("ClientTrainFlow", "user:nobody")):
        await AsyncFlow("ClientTrainFlow")
    with pytest.raises(KeyError):
        await AsyncFlows()["ClientTrainFlow"]
    namespace(None)
    assert (await AsyncFlow("ClientTrainFlow")).name == "ClientTrainFlow"


def test_namespace_none_sees_everything(client_runs: ClientRuns) -> None:
    """Under namespace(None), every run is visible and listed."""
    namespace(None)
    assert Run(client_runs.other_train).data.result == 60  # type: ignore[union-attr]
    flow = Flow("ClientTrainFlow")
    assert list(flow) == [Run(client_runs.other_train), Run(client_runs.train)]
    assert flow.latest_run == Run(client_runs.other_train)
    assert flow.latest_successful_run == Run(client_runs.other_train)
    assert Run(client_runs.other_train).is_in_namespace()


def test_listings_filter_by_namespace(client_runs: ClientRuns) -> None:
    """runs(), iteration, latest_run and latest_successful_run keep to the namespace."""
    flow = Flow("ClientTrainFlow")
    assert list(flow.runs()) == [Run(client_runs.train)]
    assert flow.latest_run == Run(client_runs.train)
    assert flow.latest_successful_run == Run(client_runs.train)
    namespace("user:other")
    assert list(flow) == [Run(client_runs.other_train)]
    assert flow.latest_run == Run(client_runs.other_train)
    assert Run(client_runs.other_train).data.alpha == 2.0  # type: ignore[union-attr]
    namespace("user:nobody")
    assert list(flow.runs()) == []
    assert flow.latest_run is None and flow.latest_successful_run is None


def test_a_user_tag_is_a_namespace(client_runs: ClientRuns) -> None:
    """Any tag works as a namespace: 'prod' holds the runs tagged prod."""
    namespace("prod")
    assert list(Flow("ClientTrainFlow")) == [Run(client_runs.train)]
    with pytest.raises(
        NamespaceMismatch, match=mismatch("Run", client_runs.retry, "prod", "user:tester")
    ):
        Run(client_runs.retry)


def test_is_in_namespace(client_runs: ClientRuns) -> None:
    """is_in_namespace() answers for the current namespace; a flow is in one if a run is."""
    run = Run(client_runs.train)
    task = run["start"].task
    assert task is not None
    assert run.is_in_namespace() and task.is_in_namespace()
    fail_flow = Flow("ClientFailFlow")
    assert Flow("ClientTrainFlow").is_in_namespace() and fail_flow.is_in_namespace()
    namespace("user:other")
    assert not run.is_in_namespace() and not task.is_in_namespace()
    assert Flow("ClientTrainFlow").is_in_namespace()
    assert not fail_flow.is_in_namespace()


def test_namespace_check_can_be_skipped(client_runs: ClientRuns) -> None:
    """``_namespace_check=False`` (used by Runner's ExecutingRun.run) skips the check."""
    run = Run(client_runs.other_train, _namespace_check=False)
    assert run.successful
    assert not run.is_in_namespace()


def test_lookup_by_id_in_a_flow_is_checked(client_runs: ClientRuns) -> None:
    """flow[run_id] checks the run against the namespace as Run(pathspec) does; ``in``
    answers False for a run outside it."""
    run_id = client_runs.other_train.split("/")[1]
    flow = Flow("ClientTrainFlow")
    with pytest.raises(
        NamespaceMismatch, match=mismatch("Run", client_runs.other_train, "user:tester")
    ):
        flow[run_id]
    assert run_id not in flow
    assert flow[client_runs.train.split("/")[1]] == Run(client_runs.train)
    namespace(None)
    assert flow[run_id] == Run(client_runs.other_train) and run_id in flow


async def test_async_lookup_by_id_in_a_flow_is_checked(client_runs: ClientRuns) -> None:
    """The async flow checks flow[run_id] the same way."""
    run_id = client_runs.other_train.split("/")[1]
    flow = await AsyncFlow("ClientTrainFlow")
    with pytest.raises(NamespaceMismatch):
        await flow[run_id]
    assert not await flow.contains(run_id)
    assert [run.pathspec async for run in flow] == [client_runs.train]


def test_flows_listing_follows_the_namespace(client_runs: ClientRuns) -> None:
    """Flows() lists the flows with a run in the namespace; Metaflow is the same class."""
    assert Metaflow is Flows
    assert [f.name for f in Flows()] == [
        "ClientFailFlow",
        "ClientRetryFlow",
        "ClientTrainFlow",
        "HelloFlow",
    ]
    namespace("user:other")
    assert Flows().flows == [Flow("ClientTrainFlow")]
    assert next(iter(Flows(_namespace_check=False))).name == "ClientFailFlow"
    assert "ClientTrainFlow" in Flows() and "Nope" not in Flows()
    assert "HelloFlow" not in Flows() and "HelloFlow" in Flows(_namespace_check=False)
    assert Flows(_namespace_check=False)["HelloFlow"] == Flow("HelloFlow", _namespace_check=False)
    for name in ("Nope", "HelloFlow"):
        with pytest.raises(KeyError):
            Flows()[name]


def test_the_namespace_is_process_wide(client_runs: ClientRuns) -> None:
    """A namespace set in one thread holds in every thread, as in the reference."""
    seen: list[str | None] = []
    namespace("user:other")
    thread = threading.Thread(target=lambda: seen.append(get_namespace()))
    thread.start()
    thread.join()
    assert seen == ["user:other"]


def test_bad_namespaces(client_runs: ClientRuns) -> None:
    """A namespace is a tag or None."""
    with pytest.raises(
        TypeError, match=r"^namespace\(\) takes a tag such as 'user:alice', or None; got int\.$"
    ):
        namespace(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^namespace\(''\) is not a namespace"):
        namespace("")
    assert get_namespace() == "user:tester"


def test_user_from_the_account(client_runs: ClientRuns, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without user variables, the account name gives the default namespace (root is an
    ordinary user); ``USER`` comes before it."""
    import pwd

    for name in ("TIDEFLOW_USER", "USER", "LOGNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    assert default_namespace() == f"user:{pwd.getpwuid(os.getuid()).pw_name}"
    monkeypatch.setenv("USER", "root")
    assert default_namespace() == "user:root"


def test_unknown_user(client_runs: ClientRuns, monkeypatch: pytest.MonkeyPatch) -> None:
    """When no user name can be found, the error says what to set."""
    import pwd

    def no_account(uid: int) -> pwd.struct_passwd:
        raise KeyError(uid)

    for name in ("TIDEFLOW_USER", "USER", "LOGNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(pwd, "getpwuid", no_account)
    monkeypatch.setattr(client_state(), "accounts", {})  # the name found by earlier tests
    with pytest.raises(
        TideflowError, match=r"^Cannot tell who is running this flow: set the TIDEFLOW_USER"
    ):
        get_namespace()
    with pytest.raises(TideflowError, match=r"^Cannot tell who"):
        Run(client_runs.train)
    namespace(None)
    assert Run(client_runs.train).successful
