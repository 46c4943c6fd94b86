"""Every snippet of the guide to running flows programmatically, as written, on both backends.

The snippets below are the guide's, with the import line changed to ``tideflow``; they run
in a folder holding ``slowflow.py`` (the guide's SlowFlow, ten times faster). Each one runs
once per backend:

* an async snippet runs as written under asyncio; for trio, its ``asyncio`` calls become
  their trio equivalents (``asyncio.sleep`` -> ``trio.sleep``, ``asyncio.run(main())`` ->
  ``trio.run(main)``), nothing else changes;
* a blocking snippet runs inside a running event loop of the backend, as in a notebook
  (the first one runs in a plain thread too).

The tests are plain functions: the snippets start (or block) their own event loops.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import anyio
import pytest

from tideflow import Runner
from tideflow._exceptions import DecoratorError

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.usefixtures("workdir")

BLOCKING_RUN = """
from tideflow import Runner
with Runner('slowflow.py').run() as running:
    print(f'{running.run} finished')
"""

BLOCKING_STATUS = """
from tideflow import Runner
SECONDS = 5
with Runner('slowflow.py', show_output=False).run(seconds=SECONDS) as running:
    if running.status == 'failed':
        print(f'❌ {running.run} failed:')
    elif running.status == 'successful':
        print(f'✅ {running.run} succeeded:')
    print(f'-- stdout --\\n{running.stdout}')
    print(f'-- stderr --\\n{running.stderr}')
    print(f'⏰ The flow waited for {running.run.data.secs} seconds')
"""

OPTIONS_KUBERNETES = """
from tideflow import Runner
with Runner('slowflow.py', pylint=False, decospecs=['kubernetes', 'retry']).run() as running:
    print(f'{running.run} completed on Kubernetes!')
"""

RUN_OPTIONS = """
from tideflow import Runner
with Runner('slowflow.py').run(max_workers=1, tags=['myrun', 'another_tag']) as running:
    print(f'{running.run} has tags {running.run.user_tags}')
"""

RUNNER_CONTEXT = """
from tideflow import Runner
with Runner('slowflow.py', pylint=False) as runner:
    result = runner.run(seconds=5, tags=["abc", "def"], max_workers=5)
    print(result.run.finished)
"""

ASYNC_STATUS = """
import asyncio
from tideflow import Runner
async def main():
    with await Runner('slowflow.py').async_run() as running:
        while running.status == 'running':
            print(f"Run status is {running.status}")
            await asyncio.sleep(1)
        print(f'{running.run} finished')
asyncio.run(main())
"""

ASYNC_WAIT = """
import asyncio
from tideflow import Runner
async def main():
    with await Runner('slowflow.py').async_run() as running:
        await running.wait()
        print(f'{running.run} finished')
asyncio.run(main())
"""

ASYNC_STREAM = """
import asyncio
from tideflow import Runner
async def main():
    with await Runner('slowflow.py').async_run() as running:
        async for _, line in running.stream_log('stdout'):
            print(f'OUT: {line}')
        print(f'{running.run} finished')
asyncio.run(main())
"""

ASYNC_ANEXT = """
import asyncio
from tideflow import Runner
async def main():
    with await Runner('slowflow.py', quiet=True).async_run(seconds=7) as running:
        stdout = aiter(running.stream_log('stdout'))
        while running.status == 'running':
            out_pos, out_line = await anext(stdout)
            print(f'STILL RUNNING: {out_line}')
            await asyncio.sleep(1)
        # output remaining lines, if any
        async for _, out_line in running.stream_log('stdout', position=out_pos):
            print(out_line)
        print(f'{running.run} finished')
asyncio.run(main())
"""

ASYNC_MANY = """
import asyncio
from tideflow import Runner
async def main():
    # start five concurrent runs
    runs = [await Runner('slowflow.py').async_run(seconds=i, tags=['manyruns']) for i in range(5)]
    while runs:
        print(f'{len(runs)} runs are still running')
        still_running = []
        for running in runs:
            if running.status == 'running':
                still_running.append(running)
            else:
                print(f'{running.run} ran for {running.run.data.secs} seconds')
        runs = still_running
        await asyncio.sleep(1)
asyncio.run(main())
"""

BLOCKING_RESUME = """
from tideflow import Runner, Flow
old_id = list(Flow('SlowFlow'))[-1].id
print(f'Resuming the first run of SlowFlow, {old_id}')
with Runner('slowflow.py').resume(origin_run_id=old_id) as running:
    print(f"Resumed run {running.run} completed")
"""

ASYNC_RESUME = """
import asyncio
from tideflow import Runner, Flow
async def main():
    old_id = list(Flow('SlowFlow'))[-1].id
    print(f'Resuming the first run of SlowFlow, {old_id}')
    with await Runner('slowflow.py').async_resume(origin_run_id=old_id) as running:
        await running.wait()
        print(f"Resumed run {running.run} completed")
asyncio.run(main())
"""

ASYNC_CONTEXT = """
import asyncio
from tideflow import Runner
async def main():
    with await Runner('slowflow.py').async_run(seconds=1) as running:
        await running.wait()
    print(running.status)
asyncio.run(main())
"""


def for_trio(snippet: str) -> str:
    """The trio twin of an async snippet: only its asyncio calls change."""
    assert "asyncio.run(main())" in snippet
    return (
        snippet.replace("import asyncio", "import trio")
        .replace("asyncio.sleep", "trio.sleep")
        .replace("asyncio.run(main())", "trio.run(main)")
    )


def run_async_snippet(snippet: str, backend: str) -> None:
    code = snippet if backend == "asyncio" else for_trio(snippet)
    exec(compile(code, f"<guide snippet on {backend}>", "exec"), {"__name__": "__main__"})  # noqa: S102


def run_blocking_snippet(snippet: str, backend: str | None) -> None:
    """Run a blocking snippet in this thread, or inside a running loop of ``backend``."""
    code = compile(snippet, "<guide snippet>", "exec")
    if backend is None:
        exec(code, {"__name__": "__main__"})  # noqa: S102
        return

    async def inside_a_loop() -> None:
        exec(code, {"__name__": "__main__"})  # noqa: S102

    anyio.run(inside_a_loop, backend=backend)


@pytest.fixture(params=["asyncio", "trio"], ids=["in-asyncio", "in-trio"])
def blocking_where(request: pytest.FixtureRequest) -> str:
    """Which running event loop a blocking snippet runs inside (as in a notebook)."""
    where: str = request.param
    return where


RUN_LINE = r"Run\('SlowFlow/(\d+)'\)"


@pytest.mark.parametrize(
    "where", [None, "asyncio", "trio"], ids=["thread", "in-asyncio", "in-trio"]
)
def test_blocking_run(where: str | None, capsys: pytest.CaptureFixture[str]) -> None:
    run_blocking_snippet(BLOCKING_RUN, where)
    out = capsys.readouterr().out
    # show_output=True echoes the run's console while it runs.
    assert "Workflow starting" in out
    assert "2 seconds passed" in out
    assert re.search(RUN_LINE + " finished", out)


def test_blocking_status_and_output(
    blocking_where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run_blocking_snippet(BLOCKING_STATUS, blocking_where)
    out = capsys.readouterr().out
    assert re.search("✅ " + RUN_LINE + " succeeded:", out)
    stdout = out.split("-- stdout --\n")[1].split("-- stderr --")[0]
    assert [f"{i} seconds passed" in stdout for i in range(5)] == [True] * 5
    # show_output=False: nothing was echoed before the snippet printed its own lines.
    assert out.startswith("✅ ")
    assert "⏰ The flow waited for 5 seconds" in out


def test_options_kubernetes_is_refused_at_once() -> None:
    """``--with kubernetes`` has no local meaning: the run is refused before it starts."""
    with pytest.raises(DecoratorError, match=r"^Unknown step decorator 'kubernetes'"):
        run_blocking_snippet(OPTIONS_KUBERNETES, None)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_options_decospecs(backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The snippet's options without Kubernetes: ``pylint=False``, ``--with retry``."""
    snippet = OPTIONS_KUBERNETES.replace("'kubernetes', ", "").replace(" on Kubernetes", "")
    run_blocking_snippet(snippet, backend)
    assert re.search(RUN_LINE + " completed!", capsys.readouterr().out)


def test_run_options_tags(blocking_where: str, capsys: pytest.CaptureFixture[str]) -> None:
    run_blocking_snippet(RUN_OPTIONS, blocking_where)
    out = capsys.readouterr().out
    match = re.search(RUN_LINE + r" has tags (.*)$", out, re.MULTILINE)
    assert match is not None
    assert "myrun" in match.group(2)
    assert "another_tag" in match.group(2)


def test_runner_context_manager(capsys: pytest.CaptureFixture[str]) -> None:
    """The reference page's Runner example, with SlowFlow's parameter for ``alpha``."""
    run_blocking_snippet(RUNNER_CONTEXT, None)
    assert capsys.readouterr().out.rstrip().endswith("True")
    with pytest.raises(ValueError, match=r"^Unknown argument 'alpha' for SlowFlow.run\(\)"):
        run_blocking_snippet(RUNNER_CONTEXT.replace("seconds=5", "alpha=5"), None)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_async_status_loop(backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    run_async_snippet(ASYNC_STATUS, backend)
    out = capsys.readouterr().out
    assert out.startswith("Run status is running\n")
    assert re.search(RUN_LINE + " finished", out)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_async_wait(backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    run_async_snippet(ASYNC_WAIT, backend)
    assert re.fullmatch(RUN_LINE + " finished\n", capsys.readouterr().out)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_async_stream_log(backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    run_async_snippet(ASYNC_STREAM, backend)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("OUT: tideflow ")
    assert [line for line in out if line.endswith("seconds passed")] == [
        line for line in out if re.fullmatch(r"OUT: .* \d seconds passed", line)
    ]
    assert sum(line.endswith("seconds passed") for line in out) == 3
    assert re.fullmatch(RUN_LINE + " finished", out[-1])


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_async_anext_and_position(backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The lines read while running plus those read from the position are the whole log."""
    run_async_snippet(ASYNC_ANEXT, backend)
    out = capsys.readouterr().out.splitlines()
    assert re.fullmatch(RUN_LINE + " finished", out[-1])
    lines = [line.removeprefix("STILL RUNNING: ") for line in out[:-1]]
    assert out[0].startswith("STILL RUNNING: ")
    # quiet=True: no header, no footer; every line once, in order.
    assert not any(line.startswith("tideflow ") for line in lines)
    passed = [line for line in lines if line.endswith("seconds passed")]
    assert [p.rsplit(" ", 3)[-3] for p in passed] == [str(i) for i in range(7)]
    assert sum("Task finished successfully." in line for line in lines) == 2


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_five_concurrent_runs(backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    run_async_snippet(ASYNC_MANY, backend)
    out = capsys.readouterr().out
    assert out.startswith("5 runs are still running\n")
    secs = sorted(int(s) for _, s in re.findall(RUN_LINE + r" ran for (\d+) seconds", out))
    assert secs == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_async_context_manager(backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    run_async_snippet(ASYNC_CONTEXT, backend)
    assert capsys.readouterr().out == "successful\n"


def _first_run(tideflow_root: Path) -> str:
    with Runner("slowflow.py", show_output=False).run(seconds=1) as running:
        assert running.status == "successful"
        return running.pathspec.split("/")[1]


def test_blocking_resume(tideflow_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old_id = _first_run(tideflow_root)
    run_blocking_snippet(BLOCKING_RESUME, None)
    out = capsys.readouterr().out
    assert f"Resuming the first run of SlowFlow, {old_id}\n" in out
    match = re.search(r"Resumed run " + RUN_LINE + " completed", out)
    assert match is not None
    assert match.group(1) != old_id


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_async_resume(
    backend: str, tideflow_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old_id = _first_run(tideflow_root)
    run_async_snippet(ASYNC_RESUME, backend)
    out = capsys.readouterr().out
    assert out.startswith(f"Resuming the first run of SlowFlow, {old_id}\n")
    match = re.search(r"Resumed run " + RUN_LINE + " completed", out)
    assert match is not None
    assert match.group(1) != old_id
