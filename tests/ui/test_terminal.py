"""The live status block under a run's console lines: on a real pseudo-terminal, and not
on a pipe."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tideflow._runtime._loader import load_flow
from tideflow._ui._terminal import ProgressDisplay

FLOW = Path(__file__).parent.parent / "flows" / "ui_flow.py"
ESCAPE = re.compile(rb"\x1b\[[0-9;]*[A-Za-z]")
#: What a plain console line starts with: a timestamp, or the run's first lines.
PLAIN = re.compile(
    r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} |Validating |    The graph |tideflow )"
)


def _env(cwd: Path) -> dict[str, str]:
    return {**os.environ, "TIDEFLOW_USER": "tester", "TIDEFLOW_ROOT": str(cwd / ".tideflow")}


def _in_pty(argv: list[str], cwd: Path) -> tuple[int, bytes]:
    """Run ``argv`` with a pseudo-terminal as stdin, stdout and stderr; return its output."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=_env(cwd)
    )
    os.close(slave)
    output = b""
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
            elif process.poll() is not None:
                break
        return process.wait(timeout=30), output
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
            process.wait()


def _screen(output: bytes) -> list[str]:
    """The lines left on a terminal that printed ``output`` (the codes the block uses)."""
    lines: list[str] = []
    for part in re.split(rb"(\x1b\[\d+F\x1b\[J)", output):
        erase = re.fullmatch(rb"\x1b\[(\d+)F\x1b\[J", part)
        if erase:
            del lines[len(lines) - int(erase.group(1)) :]
        else:
            lines.extend(part.decode("utf-8", "replace").replace("\r\n", "\n").splitlines())
    return lines


def _counts(output: bytes, step: str, total: int) -> list[int]:
    """Every ``done/total`` count the block showed for ``step``, in order."""
    text = output.decode("utf-8", "replace")
    return [
        int(n.replace(",", "")) for n in re.findall(rf"{step} +\[[#-]+\]  ([\d,]+)/{total}", text)
    ]


def test_block_counts_advance_on_a_terminal(tmp_path: Path) -> None:
    """The foreach's done count goes up to its size, and the block is erased at the end."""
    code, output = _in_pty(
        [sys.executable, str(FLOW), "run", "--count", "24", "--max-workers", "2"], tmp_path
    )
    assert code == 0, output.decode(errors="replace")
    counts = _counts(output, "body", 24)
    assert counts[-1] == 24
    assert len(set(counts)) >= 2 and counts == sorted(counts)
    assert b"UiFlow/" in output and b"\x1b[J" in output
    # What stays on the screen is the plain console: the block is erased at the end.
    screen = _screen(output)
    assert re.search(r" Done! See the run with Run\('UiFlow/\d+'\)\.$", screen[-1]), screen[-1]
    assert all(PLAIN.match(line) for line in screen), screen


@pytest.mark.parametrize(
    "argv",
    [
        [str(FLOW), "--quiet", "run", "--count", "3"],
        [str(FLOW), "run", "--no-progress", "--count", "3"],
        ["-m", "tideflow", "run", str(FLOW), "--no-progress", "--count", "3"],
    ],
)
def test_flags_turn_the_block_off(tmp_path: Path, argv: list[str]) -> None:
    code, output = _in_pty([sys.executable, *argv], tmp_path)
    assert code == 0, output.decode(errors="replace")
    assert ESCAPE.search(output) is None
    assert _counts(output, "body", 3) == []


def test_resume_no_progress(tmp_path: Path) -> None:
    _in_pty([sys.executable, str(FLOW), "run", "--count", "3", "--fail"], tmp_path)
    code, output = _in_pty([sys.executable, str(FLOW), "resume", "--no-progress"], tmp_path)
    assert code == 1  # the report step fails again
    assert b"Cloned from" in output
    assert ESCAPE.search(output) is None


def test_a_flow_parameter_named_n(tmp_path: Path) -> None:
    """``--no-progress`` is an option of ``run``, so ``--n`` still names a parameter."""
    flow = Path(__file__).parent.parent / "flows" / "exec_overlap.py"
    code, output = _in_pty([sys.executable, str(flow), "run", "--n", "2"], tmp_path)
    assert code == 0, output.decode(errors="replace")


def test_a_pipe_gets_plain_lines_only(tmp_path: Path) -> None:
    """Through a pipe, the output is the plain console: no escape code, no status line."""
    result = subprocess.run(
        [sys.executable, str(FLOW), "run", "--count", "5"],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0
    for stream in (result.stdout, result.stderr):
        assert b"\x1b" not in stream
        for line in stream.decode().splitlines():
            assert PLAIN.match(line), line


def test_runner_run_on_a_terminal(tmp_path: Path) -> None:
    """``Runner.run()`` shows the block too, and ``progress=False`` turns it off."""
    script = tmp_path / "script.py"
    script.write_text(
        "import sys\nfrom tideflow import Runner\n"
        f"Runner({str(FLOW)!r}, progress=sys.argv[1] == 'on').run(count=12, max_workers=2)\n"
    )
    code, output = _in_pty([sys.executable, str(script), "on"], tmp_path)
    assert code == 0, output.decode(errors="replace")
    assert _counts(output, "body", 12)[-1] == 12
    code, output = _in_pty([sys.executable, str(script), "off"], tmp_path)
    assert code == 0
    assert ESCAPE.search(output) is None


async def test_the_block_from_console_lines() -> None:
    """The block counts what the console lines say; the foreach's size comes from the store."""
    asked = []

    async def splits(run_id: str, step: str, task_id: str) -> int:
        asked.append((run_id, step, task_id))
        return 10

    flow = load_flow(str(FLOW))
    out, err = io.StringIO(), io.StringIO()
    display = ProgressDisplay("UiFlow", flow.graph, splits, out=out, err=err)
    stamp = "2026-12-01 10:00:00.000"
    await display.echo("stdout", f"{stamp} [77/start/1 (pid 5)] Task is starting.\n")
    await display.echo("stdout", f"{stamp} [77/start/1 (pid 5)] Task finished successfully.\n")
    await display.echo("stdout", f"{stamp} [77/join/9] Cloned from UiFlow/76/join/9.\n")
    for task in range(2, 6):
        prefix = f"[77/body/{task} item {task - 2} (pid 6)]"
        await display.echo("stdout", f"{stamp} {prefix} Task is starting.\n")
    await display.echo("stdout", f"{stamp} [77/body/2 (pid 6)] Task finished successfully.\n")
    await display.echo("stderr", f"{stamp} [77/body/3 (pid 6)] Task failed: ValueError: no\n")
    assert asked == [("77", "start", "1")]
    lines = display.lines()
    assert lines[0].startswith("UiFlow/77  0:")
    assert lines[1].split() == ["start", "done"]
    assert re.fullmatch(r"body +\[##-{18}\]  1/10  2 running  1 failed  ETA \d+:\d\d", lines[2])
    assert lines[3].split() == ["join", "done"]
    assert "Task failed" in err.getvalue() and "Task failed" not in out.getvalue()
    display.draw()
    assert out.getvalue().endswith("".join(f"{line}\n" for line in display.lines()[1:]))
    display.close()
    assert out.getvalue().endswith(f"\x1b[{len(lines)}F\x1b[J")


def test_a_flow_parameter_named_progress(tmp_path: Path) -> None:
    """A flow's own ``--no-progress`` (a bool parameter ``progress``) wins over the option."""
    flow = tmp_path / "progress_flow.py"
    flow.write_text(
        "from tideflow import FlowSpec, Parameter, step\n\n\n"
        "class ProgressFlow(FlowSpec):\n"
        "    progress = Parameter('progress', default=True, type=bool)\n\n"
        "    @step\n    def start(self):\n"
        "        print('progress is', self.progress)\n        self.next(self.end)\n\n"
        "    @step\n    def end(self):\n        pass\n\n\n"
        "if __name__ == '__main__':\n    ProgressFlow()\n"
    )
    result = subprocess.run(
        [sys.executable, str(flow), "run", "--no-progress"],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "progress is False" in result.stdout
