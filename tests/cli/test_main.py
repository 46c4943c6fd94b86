"""The command line as a new user meets it: usage lines, misplaced options, picking a
flow, and the hints that name the fix.

Commands that run nothing are called in this process through :func:`tideflow._cli.main`;
those that run a flow, or are ``python flow.py ...``, run as real processes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from executors import executor  # noqa: F401  (a fixture)
from tideflow import Runner
from tideflow._cli import main

FLOWS = Path(__file__).resolve().parent.parent / "flows"


def cli_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDEFLOW_")}
    return {**env, "TIDEFLOW_USER": "tester", "TIDEFLOW_ROOT": str(root)}


def python_flow(file: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python tests/flows/FILE ARGS...`` in ``cwd``, with a store of its own."""
    return subprocess.run(
        [sys.executable, str(FLOWS / file), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=cli_env(cwd / ".tideflow"),
        timeout=90,
        check=False,
    )


def tideflow(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``tideflow ARGS...`` in ``cwd``, with a store of its own."""
    return subprocess.run(
        [sys.executable, "-m", "tideflow", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=cli_env(cwd / ".tideflow"),
        timeout=90,
        check=False,
    )


# -- usage and help ------------------------------------------------------------------------


def test_run_help_shows_the_usage_line_of_the_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``tideflow run f.py --help`` shows ``usage: tideflow run f.py ...``, not the flow
    file's command line with ``run`` twice."""
    flow = str(FLOWS / "flow_params.py")
    with pytest.raises(SystemExit):
        main(["run", flow, "--help"])
    usage = " ".join(capsys.readouterr().out.split("\n\n")[0].split())
    assert usage.startswith(f"usage: tideflow run {flow} [-h] [--name VALUE]")
    assert " run [-h]" not in usage
    with pytest.raises(SystemExit):
        main(["tag", flow, "add", "--help"])
    usage = " ".join(capsys.readouterr().out.split())
    assert usage.startswith(f"usage: tideflow tag {flow} add [-h]")


def test_flow_help_mentions_tideflow_runs(tmp_path: Path) -> None:
    """``python flow.py --help`` says how to list the flow's runs."""
    done = python_flow("flow_linear.py", "--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = " ".join(done.stdout.split())
    assert out.startswith(f"usage: python {FLOWS / 'flow_linear.py'} [-h]")
    assert out.endswith("See the recent runs of this flow with: tideflow runs LinearFlow")


def test_tideflow_help_tells_how_to_name_a_flow(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "tideflow runs [FLOW] [--limit N]" in out
    assert "flow.py:MyFlow" in out and "package.module:MyFlow" in out


# -- options in the wrong place -------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["run", "--quiet"],
            (
                "error: --quiet is a top-level option: it goes before the command, as in: "
                "python {file} --quiet run ...\n"
            ),
        ),
        (
            ["run", "--with", "retry"],
            (
                "error: --with is a top-level option: it goes before the command, as in: "
                "python {file} --with DECORATOR run ...\n"
            ),
        ),
    ],
)
def test_a_top_level_option_after_the_command(
    tmp_path: Path, args: list[str], message: str
) -> None:
    """``python flow.py run --quiet`` says where ``--quiet`` goes; nothing runs."""
    done = python_flow("flow_linear.py", *args, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == message.format(file=FLOWS / "flow_linear.py")
    assert not (tmp_path / ".tideflow").exists()


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["--count", "3"], "--count 3"),
        (["--count=3"], "--count 3"),
        (["--loud"], "--loud"),
        (["start", "--no-loud"], "--no-loud"),
    ],
)
def test_resume_keeps_the_origin_runs_parameters(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], shown: str
) -> None:
    """``resume --count 3`` says that a resume keeps the origin run's parameters (instead
    of taking ``3`` as the step to rerun)."""
    flow = str(FLOWS / "flow_params.py")
    assert main(["resume", flow, "--root", str(tmp_path), *args]) == 2
    option = shown.split()[0]
    assert capsys.readouterr().err == (
        f"error: {option} is a flow parameter, and a resume keeps the parameters of the "
        f"origin run. To run with other values, start a new run: tideflow run {flow} "
        f"{shown}\n"
    )


# -- which flow ------------------------------------------------------------------------------


def test_a_file_with_two_flows_says_how_to_pick_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    flow = str(FLOWS / "two_flows.py")
    assert main(["run", flow, "--root", str(tmp_path)]) == 1
    assert capsys.readouterr().err == (
        f"error: {flow}: It defines 2 flows (FirstFlow, SecondFlow): pick one by name, as in "
        f"`tideflow run {flow}:FirstFlow` or Runner('{flow}:FirstFlow'), or keep one flow "
        "per file.\n"
    )
    assert main(["check", f"{flow}:SecondFlow"]) == 0
    assert capsys.readouterr().out == "Validating SecondFlow... The graph looks good!\n"
    assert main(["check", f"{flow}:ThirdFlow"]) == 1
    assert capsys.readouterr().err == (
        f"error: {flow}: It defines no FlowSpec subclass named ThirdFlow; it defines: "
        "FirstFlow, SecondFlow.\n"
    )


def test_run_one_flow_of_a_file(tmp_path: Path, executor: str) -> None:  # noqa: F811
    """``tideflow run two_flows.py:SecondFlow`` runs that flow in real task processes."""
    shutil.copy(FLOWS / "two_flows.py", tmp_path)
    done = tideflow("run", "two_flows.py:SecondFlow", "--executor", executor, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "] second flow" in done.stdout and "first flow" not in done.stdout


def test_run_module_and_class_from_the_working_directory(
    tmp_path: Path,
    executor: str,  # noqa: F811
) -> None:
    """``tideflow run module:Class`` finds the module in the working directory, and so do
    the task processes."""
    shutil.copy(FLOWS / "two_flows.py", tmp_path / "my_flows.py")
    done = tideflow("run", "my_flows:FirstFlow", "--executor", executor, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "] first flow" in done.stdout


async def test_runner_picks_one_flow_of_a_file(tmp_path: Path, executor: str) -> None:  # noqa: F811
    """Runner('two_flows.py:SecondFlow') and Runner('module:Class') from ``cwd``."""
    shutil.copy(FLOWS / "two_flows.py", tmp_path / "my_flows.py")
    env = {"TIDEFLOW_ROOT": str(tmp_path / ".tideflow"), "TIDEFLOW_USER": "tester"}
    for flow, which in (("my_flows.py:SecondFlow", "second"), ("my_flows:FirstFlow", "first")):
        runner = Runner(flow, cwd=tmp_path, env=env, show_output=False, executor=executor)
        async with await runner.async_run() as running:
            await running.wait()
        assert running.status == "successful", running.stderr
        assert running.run.data.which == which  # type: ignore[union-attr]


def test_a_module_that_cannot_be_found(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    os.chdir(tmp_path)
    try:
        assert main(["check", "no_such_module:Flow"]) == 1
    finally:
        os.chdir(FLOWS)
    assert capsys.readouterr().err == (
        "error: Cannot import module 'no_such_module': No module named 'no_such_module'. It "
        f"is looked for in {tmp_path.resolve()} and on sys.path.\n"
    )


def test_options_before_the_flow_file(capsys: pytest.CaptureFixture[str]) -> None:
    """``tideflow run --executor spawn f.py`` says the flow file comes right after the
    command, instead of looking for a flow file named ``--executor``."""
    assert main(["run", "--executor", "spawn", str(FLOWS / "flow_linear.py")]) == 2
    assert capsys.readouterr().err == (
        "error: tideflow run needs a flow file, right after the command: tideflow run "
        "myflow.py [OPTIONS]\n"
    )
    assert main(["run", "--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: tideflow COMMAND FLOW_FILE")
