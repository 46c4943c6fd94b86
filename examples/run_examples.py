"""Run every example in this folder and report which ones fail.

Two kinds of example live here:

* flow files (they define a ``FlowSpec`` subclass and call it under ``__main__``) are run as
  ``python <file> run`` from a scratch working directory;
* every other script is run as ``python <file>`` from this folder, so that it can refer to
  the flow files by their plain names.

All of them share one fresh store (``TIDEFLOW_ROOT`` points into a temporary folder), and the
flow files run first, so a script that inspects past runs finds them. An example can ask for
extra command-line arguments with a comment near its top::

    # example-args: --alpha 3

Usage: ``python examples/run_examples.py [--timeout SECONDS] [NAME ...]``, where each NAME
selects an example by file name (``hello`` or ``hello.py``). The exit status is 1 when any
example failed.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

EXAMPLES_DIR = Path(__file__).resolve().parent
ARGS_MARKER = "# example-args:"
#: How many lines from the top of a file may hold the ``# example-args:`` comment.
ARGS_SEARCH_LINES = 15


@dataclass(frozen=True)
class Example:
    path: Path
    is_flow: bool
    extra_args: tuple[str, ...]

    @property
    def command(self) -> list[str]:
        head = [sys.executable, str(self.path)]
        return [*head, "run", *self.extra_args] if self.is_flow else [*head, *self.extra_args]


@dataclass(frozen=True)
class Outcome:
    example: Example
    returncode: int | None  # None: it ran out of time
    seconds: float
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def parse_example(path: Path) -> Example:
    """Tell whether ``path`` is a flow file and read its ``# example-args:`` comment."""
    text = path.read_text(encoding="utf-8")
    is_flow = "FlowSpec" in text and "__main__" in text
    extra: tuple[str, ...] = ()
    for line in text.splitlines()[:ARGS_SEARCH_LINES]:
        stripped = line.strip()
        if stripped.startswith(ARGS_MARKER):
            extra = tuple(shlex.split(stripped[len(ARGS_MARKER) :]))
            break
    return Example(path=path, is_flow=is_flow, extra_args=extra)


def discover(names: Sequence[str]) -> list[Example]:
    """Return the examples to run: flow files first, then the other scripts, each by name."""
    this_file = Path(__file__).resolve()
    wanted = {name.removesuffix(".py") for name in names}
    paths = [
        path
        for path in sorted(EXAMPLES_DIR.glob("*.py"))
        if path.resolve() != this_file
        and not path.name.startswith("_")
        and (not wanted or path.stem in wanted)
    ]
    missing = wanted - {path.stem for path in paths}
    if missing:
        raise SystemExit(f"No such example: {', '.join(sorted(missing))}")
    examples = [parse_example(path) for path in paths]
    return sorted(examples, key=lambda example: not example.is_flow)


def run_one(example: Example, *, workdir: Path, env: dict[str, str], timeout: float) -> Outcome:
    """Run one example and collect its combined output."""
    cwd = workdir if example.is_flow else EXAMPLES_DIR
    started = time.monotonic()
    try:
        completed = subprocess.run(
            example.command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        output = exc.output if isinstance(exc.output, str) else (exc.output or b"").decode()
        return Outcome(example, None, time.monotonic() - started, output)
    return Outcome(example, completed.returncode, time.monotonic() - started, completed.stdout)


def describe(outcome: Outcome) -> str:
    name = outcome.example.path.name
    if outcome.returncode is None:
        status = "TIMEOUT"
    elif outcome.ok:
        status = "ok"
    else:
        status = f"FAILED (exit {outcome.returncode})"
    return f"{name:<32} {status:<20} {outcome.seconds:6.1f}s"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the tideflow examples.")
    parser.add_argument("names", nargs="*", help="examples to run (default: all of them)")
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds allowed per example (default 300)"
    )
    options = parser.parse_args(argv)

    examples = discover(options.names)
    if not examples:
        print(f"No examples found in {EXAMPLES_DIR}")
        return 0

    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="tideflow-examples-") as scratch:
        workdir = Path(scratch)
        env = dict(os.environ)
        env["TIDEFLOW_ROOT"] = str(workdir / ".tideflow")
        env.setdefault("TIDEFLOW_USER", "examples")
        for example in examples:
            print(f"--> {shlex.join(example.command[1:])}", flush=True)
            outcome = run_one(example, workdir=workdir, env=env, timeout=options.timeout)
            outcomes.append(outcome)
            if not outcome.ok:
                print(outcome.output.rstrip())
            print(describe(outcome), flush=True)

    failed = [outcome for outcome in outcomes if not outcome.ok]
    print()
    print("Summary:")
    for outcome in outcomes:
        print(f"  {describe(outcome)}")
    print(f"examples: {len(outcomes) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
