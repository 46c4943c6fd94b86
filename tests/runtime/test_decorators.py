"""The step decorators at work: @retry, @catch, @timeout, @environment, @resources, alone,
together, and attached with ``--with`` / ``decospecs``.

The flows of ``tests/flows/fail_*.py`` run together in one module-scoped fixture, once
per anyio backend, through ``Runner.async_run``; each run has a store of its own. The
tests read what the runs stored.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import pytest

from executors import module_anyio_backend, module_executor  # noqa: F401  (fixtures)
from stored_runs import StoredRun, metadata_store, read_run
from tideflow import Runner, Task
from tideflow._exceptions import DecoratorError, TaskException
from tideflow._runtime._resources import read_machine

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

FLOWS = Path(__file__).resolve().parent.parent / "flows"
CPUS = int(read_machine().cpu)
#: What ``flaky`` in fail_decorators_flow.py waits between attempts, in seconds.
FLAKY_DELAY = 0.01 * 60


@dataclass
class Scenario:
    file: str
    flow: str
    env: dict[str, str]
    decospecs: tuple[str, ...] = ()


SCENARIOS = {
    "alone": Scenario("fail_decorators_flow.py", "FailDecoratorsFlow", {}),
    "combined": Scenario("fail_combined_flow.py", "FailCombinedFlow", {}),
    "timeout": Scenario("fail_timeout_flow.py", "FailTimeoutFlow", {}),
    "timeout_catch": Scenario("fail_timeout_catch_flow.py", "FailTimeoutCatchFlow", {}),
    "retry_with": Scenario(
        "fail_linear_flow.py",
        "FailLinearFlow",
        {"FAIL_STEP": "middle"},
        ("retry:times=1,minutes_between_retries=0",),
    ),
    "retry_default": Scenario(
        "fail_linear_flow.py", "FailLinearFlow", {"FAIL_STEP": "middle"}, ("retry:times=2",)
    ),
    "too_big": Scenario(
        "fail_linear_flow.py", "FailLinearFlow", {}, (f"resources:cpu={CPUS + 1}",)
    ),
    "whole_machine": Scenario(
        "fail_foreach_flow.py",
        "FailForeachFlow",
        {"BODY_SLEEP": "0.3"},
        (f"resources:cpu={CPUS},memory=100",),
    ),
}


@dataclass
class Outcome:
    status: str
    stdout: str
    stderr: str
    run: StoredRun


@pytest.fixture(scope="module")
async def outcomes(
    tmp_path_factory: pytest.TempPathFactory, executor: str
) -> AsyncIterator[dict[str, Outcome]]:
    """Every scenario, run at the same time, each in a store of its own."""
    results: dict[str, Outcome] = {}

    async def one(key: str, scenario: Scenario) -> None:
        root = tmp_path_factory.mktemp(key) / ".tideflow"
        runner = Runner(
            str(FLOWS / scenario.file),
            show_output=False,
            env={"TIDEFLOW_USER": "tester", **scenario.env},
            root=str(root),
            decospecs=list(scenario.decospecs),
            executor=executor,
        )
        executing = await runner.async_run()
        await executing.wait()
        run = await anyio.to_thread.run_sync(read_run, root, scenario.flow)
        results[key] = Outcome(executing.status, executing.stdout, executing.stderr, run)

    with anyio.fail_after(120):
        async with anyio.create_task_group() as tg:
            for key, scenario in SCENARIOS.items():
                tg.start_soon(one, key, scenario)
    yield results


# -- each decorator alone ----------------------------------------------------------------


async def test_retry_runs_failed_attempts_again(outcomes: dict[str, Outcome]) -> None:
    """@retry(times=2): two failed attempts, then one that succeeds, each with its own log."""
    outcome = outcomes["alone"]
    assert outcome.status == "successful"
    flaky = outcome.run.only("flaky")
    assert [a.state for a in flaky.attempts] == ["failed", "failed", "succeeded"]
    assert flaky.attempts[0].exception is not None
    assert flaky.attempts[0].exception.message == "attempt 0 fails"
    assert flaky.artifacts["attempt_seen"] == 2  # current.retry_count
    for number in range(3):
        assert flaky.log("stdout", number) == f"flaky attempt {number}\n"
    assert "ValueError: attempt 1 fails" in flaky.log("stderr", 1)
    assert "(retry 2)" in outcome.stdout


async def test_retry_waits_between_attempts(outcomes: dict[str, Outcome]) -> None:
    """An explicit minutes_between_retries is honoured, and the console says so."""
    outcome = outcomes["alone"]
    attempts = outcome.run.only("flaky").attempts
    for before, after in itertools.pairwise(attempts):
        assert before.finished_at is not None
        assert after.started_at - before.finished_at >= FLAKY_DELAY * 0.9
    assert re.search(
        r"Task failed; retrying in 0\.6 s, attempt 2 of 3\.$", outcome.stderr, re.MULTILINE
    )
    assert re.search(
        r"Task failed; retrying in 0\.6 s, attempt 3 of 3\.$", outcome.stderr, re.MULTILINE
    )


async def test_retry_without_a_delay_retries_at_once(outcomes: dict[str, Outcome]) -> None:
    """@retry without minutes_between_retries does not wait (the reference's local runtime
    does not either): the scenario finishes long before the two minutes a pause took."""
    outcome = outcomes["retry_default"]
    assert outcome.status == "failed"
    middle = outcome.run.only("middle")
    assert [a.state for a in middle.attempts] == ["failed", "failed", "failed"]
    assert "attempt 2 of 3" in outcome.stderr
    assert re.search(
        r"Task failed; retrying at once, attempt 3 of 3\.$", outcome.stderr, re.MULTILINE
    )
    assert outcome.run.only("start").metadata["step-decorators"] == (
        '["retry:times=2,minutes_between_retries=null"]'
    )


async def test_environment_sets_variables_in_the_task(outcomes: dict[str, Outcome]) -> None:
    task = outcomes["alone"].run.only("configured")
    assert task.artifacts["greeting"] == "hello from @environment"
    assert "GREETING" not in os.environ


async def test_catch_stores_the_failure_and_the_run_goes_on(
    outcomes: dict[str, Outcome],
) -> None:
    """@catch(var=...): the task fails, the variable holds the exception's type, message
    and stack trace, the task keeps what it set before it raised, and the next steps run.
    The client's task.exception is None: the failure was handled."""
    outcome = outcomes["alone"]
    broken = outcome.run.only("broken")
    assert [a.state for a in broken.attempts] == ["failed"]
    assert broken.metadata["caught"] == "True"
    problem = broken.artifacts["problem"]
    assert isinstance(problem, TaskException)
    assert (problem.type, problem.exception) == ("builtins.KeyError", "'always broken'")
    assert problem.stacktrace.startswith("Traceback (most recent call last):")
    assert 'raise KeyError("always broken")' in problem.stacktrace
    assert broken.artifacts["partial"] == "set before the failure"
    end = outcome.run.only("end")
    assert end.artifacts["problem_text"] == "KeyError: 'always broken'"
    assert end.artifacts["partial"] == "set before the failure"
    assert "@catch caught the failure" in outcome.stderr
    broken_lines = [line for line in outcome.stderr.splitlines() if "/broken/" in line]
    assert sum("Traceback" in line for line in broken_lines) == 1  # printed once
    task = Task(broken.record.pathspec, _namespace_check=False, _root=str(broken.root))
    assert task.exception is None


async def test_catch_on_a_step_that_did_not_fail(outcomes: dict[str, Outcome]) -> None:
    """@catch(var='start_error') on a step that succeeds sets self.start_error = None."""
    run = outcomes["alone"].run
    assert run.only("start").artifacts["start_error"] is None
    assert run.only("end").artifacts["start_error_seen"] is None


async def test_timeout_stops_the_attempt(outcomes: dict[str, Outcome]) -> None:
    """@timeout(seconds=8): the sleeping task is stopped and counts as a failed attempt."""
    outcome = outcomes["timeout"]
    assert outcome.status == "failed"
    slow = outcome.run.only("slow")
    assert slow.state == "timeout"
    assert slow.last.finished_at is not None
    assert slow.last.finished_at - slow.last.started_at < 30  # not the minute it sleeps
    assert slow.last.exception is not None
    assert slow.last.exception.type == "TimeoutError"
    assert slow.last.exception.message == "Step 'slow' timed out after 8 seconds (@timeout)."
    assert slow.log() == "slow starts\n"
    assert "Task timed out after 8 seconds: its processes were stopped." in outcome.stderr
    assert "end" not in outcome.run.steps


async def test_a_caught_timeout_keeps_what_the_step_set(outcomes: dict[str, Outcome]) -> None:
    """The step is interrupted at its limit (``except Exception`` does not stop that), its
    artifacts are kept, and @catch passes them on with the TimeoutError."""
    outcome = outcomes["timeout_catch"]
    assert outcome.status == "successful"
    slow = outcome.run.only("slow")
    assert slow.state == "timeout"
    assert slow.artifacts["before_sleep"] == "set before the timeout"
    assert "swallowed" not in slow.artifacts
    assert slow.artifacts["timed_out"].type == "builtins.TimeoutError"
    assert outcome.run.only("end").artifacts["seen"] == (
        "set before the timeout",
        "builtins.TimeoutError",
    )


# -- together ----------------------------------------------------------------------------


async def test_retry_with_timeout(outcomes: dict[str, Outcome]) -> None:
    """A timed-out attempt is retried; the retry finishes in time."""
    task = outcomes["combined"].run.only("slow_once")
    assert [a.state for a in task.attempts] == ["timeout", "succeeded"]
    assert task.artifacts["finished_on"] == 1


async def test_retry_with_catch(outcomes: dict[str, Outcome]) -> None:
    """Every attempt fails; after the last one @catch lets the run go on."""
    outcome = outcomes["combined"]
    assert outcome.status == "successful"
    broken = outcome.run.only("broken")
    assert [a.state for a in broken.attempts] == ["failed", "failed"]
    assert broken.artifacts["problem"].type == "builtins.ValueError"
    assert "broken on attempt 1" in outcome.run.only("end").artifacts["problem_text"]


# -- --with / decospecs ------------------------------------------------------------------


async def test_retry_from_decospecs_applies_to_every_step(outcomes: dict[str, Outcome]) -> None:
    outcome = outcomes["retry_with"]
    assert outcome.status == "failed"
    middle = outcome.run.only("middle")
    assert [a.state for a in middle.attempts] == ["failed", "failed"]
    assert outcome.run.only("start").metadata["step-decorators"] == (
        '["retry:times=1,minutes_between_retries=0"]'
    )


def test_unknown_decorator_fails_before_the_run(tideflow_root: Path) -> None:
    runner = Runner(str(FLOWS / "fail_linear_flow.py"), decospecs=["nope"])
    with pytest.raises(DecoratorError, match=r"^Unknown step decorator 'nope'\. Valid .*retry\("):
        runner.run()
    with metadata_store(tideflow_root) as store:
        assert store.list_runs("FailLinearFlow") == []


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("retry:times=-1", r"^@retry: times must be a whole number >= 0, got -1\.$"),
        ("timeout:secs=3", r"^@timeout got unknown argument\(s\) secs\. Valid arguments"),
        ("retry:times", r"^Cannot read 'times' in decorator spec"),
    ],
)
def test_bad_decorator_arguments_fail_before_the_run(
    tideflow_root: Path, spec: str, message: str
) -> None:
    with pytest.raises(DecoratorError, match=message):
        Runner(str(FLOWS / "fail_linear_flow.py"), decospecs=[spec]).run()


def test_with_on_the_command_line(tideflow_root: Path) -> None:
    """--with retry makes a step that fails once succeed; an unknown name is an error.

    The command runs in a process of its own: it owns the main thread's signals.
    """
    flow = str(FLOWS / "fail_linear_flow.py")
    command = [sys.executable, flow, "--with", "bogus", "run"]
    bad = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 1
    assert re.search(r"^error: Unknown step decorator 'bogus'\. Valid", bad.stderr, re.MULTILINE)
    command[3] = "retry:times=1,minutes_between_retries=0"
    env = {**os.environ, "FAIL_STEP": "middle", "FAIL_ONCE": "1"}
    good = subprocess.run(
        command, capture_output=True, text=True, timeout=60, env=env, check=False
    )
    assert good.returncode == 0, good.stderr
    middle = read_run(tideflow_root, "FailLinearFlow").only("middle")
    assert [a.state for a in middle.attempts] == ["failed", "succeeded"]


# -- @resources --------------------------------------------------------------------------


async def test_resources_larger_than_the_machine_fail_at_once(
    outcomes: dict[str, Outcome],
) -> None:
    outcome = outcomes["too_big"]
    assert outcome.status == "failed"
    start = outcome.run.only("start")
    assert start.state == "failed"
    assert start.metadata["pid"] == "None"  # no process was started
    assert start.last.exception is not None
    assert start.last.exception.type == "InsufficientResources"
    assert re.match(
        rf"^Step 'start' asks for more than this machine has: @resources cpu={CPUS + 1} but "
        rf"it has {CPUS} CPUs\. Lower the request",
        start.last.exception.message,
    )
    assert "Task cannot run: Step 'start' asks for more" in outcome.stderr
    assert list(outcome.run.steps) == ["start"]


async def test_resources_keep_tasks_within_the_machine(outcomes: dict[str, Outcome]) -> None:
    """Each body task asks for every CPU: they run one after the other, never together."""
    outcome = outcomes["whole_machine"]
    assert outcome.status == "successful"
    windows = sorted(task.artifacts["window"] for task in outcome.run.steps["body"])
    for (_, end), (start, _) in itertools.pairwise(windows):
        assert start >= end
    recorded: dict[str, Any] = outcome.run.steps["body"][0].metadata
    assert recorded["resources"] == f'{{"cpu": {float(CPUS)}, "memory": 100.0, "gpu": 0.0}}'
