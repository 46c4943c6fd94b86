"""The live status block a run keeps under its console lines on a terminal.

::

    UiFlow/1764412800123456  0:12
    start   done
    body    [########------------]  3,412/10,000  16 running  0 failed  ETA 0:21
    join    waiting

The block follows the console lines themselves (``[run/step/task item 3 (pid N)] Task is
starting.``, ``... Task finished successfully.``, ``... Task failed: ...``), so it needs
no hook in the scheduler; the size of a foreach comes from the store once its task has
ended. Each write erases the block, prints the lines and draws the block again (at most
ten times a second); :meth:`ProgressDisplay.run` redraws it a few times a second so the
clock moves while nothing is printed. Nothing is drawn unless stdout is a terminal.

Only the supervising process imports this module, and only when it echoes a run to a
terminal: a task process never pays for it.
"""

from __future__ import annotations

import re
import shutil
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, TextIO

import anyio

from .._states import AttemptState

if TYPE_CHECKING:
    from .._flow._graph import FlowGraph
    from .._runtime._request import RunRequest

__all__ = ("ProgressDisplay", "terminal_display")

#: Seconds between two redraws of the clock.
TICK: Final = 0.25
#: The shortest time between two redraws caused by writes.
MIN_REDRAW: Final = 0.1
BAR_WIDTH: Final = 20

#: ``[run/step/task]``, then what the prefix may add (``item 3``, ``(pid 42)``), then the
#: message.
_LINE: Final = re.compile(
    r"\[(?P<run>[^/\]\s]+)/(?P<step>[^/\]\s]+)/(?P<task>[^/\]\s]+)(?: [^\]]*)?\] "
    r"(?P<message>(?:Task |Cloned from ).*)$"
)
#: What a console message says of a task's state.
_STATES: Final = (
    ("Task is starting", AttemptState.RUNNING),
    ("Task finished successfully", AttemptState.SUCCEEDED),
    ("Task failed", AttemptState.FAILED),
    ("Task cannot run", AttemptState.FAILED),
    ("Task timed out", AttemptState.TIMEOUT),
    ("Cloned from", AttemptState.SUCCEEDED),  # a resume copies what its origin finished
)

#: Asks the store for the number of splits a foreach task made: ``(run_id, step, task_id)``.
SplitsLookup = Callable[[str, str, str], Awaitable[int | None]]


@dataclass
class _Step:
    name: str
    kind: str
    #: The foreach step whose splits make this step's tasks, if any.
    scaled_by: str | None = None
    tasks: dict[str, AttemptState] = field(default_factory=dict)
    splits: int = 0
    first_start: float | None = None

    def count(self, *states: AttemptState) -> int:
        return sum(1 for s in self.tasks.values() if s in states)


def _scaled_steps(graph: FlowGraph) -> dict[str, str]:
    """Each step inside a foreach, with the foreach step that fans out to it."""
    scaled: dict[str, str] = {}
    for node in graph:
        if node.type != "foreach" or not node.out_funcs:
            continue
        todo = [node.out_funcs[0]]
        while todo:
            name = todo.pop()
            if name in scaled or name == node.matching_join:
                continue
            scaled[name] = node.name
            child = graph[name]
            if child.type != "foreach":  # an inner foreach's steps are its own
                todo.extend(child.out_funcs)
            elif child.matching_join is not None:
                todo.append(child.matching_join)
    return scaled


def _clock(seconds: float) -> str:
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressDisplay:
    """The status block of one run on a terminal; see the module docstring."""

    def __init__(
        self,
        title: str,
        graph: FlowGraph,
        splits: SplitsLookup,
        *,
        out: TextIO | None = None,
        err: TextIO | None = None,
    ) -> None:
        self._title = title
        self._run_id = ""
        self._splits = splits
        self._out = out if out is not None else sys.stdout
        self._err = err if err is not None else sys.stderr
        scaled = _scaled_steps(graph)
        self._steps = {
            node.name: _Step(node.name, node.type, scaled.get(node.name)) for node in graph
        }
        self._started = time.monotonic()
        self._drawn = 0
        self._last_draw = 0.0
        self._closed = False

    def __repr__(self) -> str:
        return f"<ProgressDisplay {self._title} lines={self._drawn}>"

    async def echo(self, stream: str, text: str) -> None:
        """Print ``text`` (whole lines) to ``stream`` above the block; count what it says."""
        if self._closed:
            self._raw(stream, text)
            return
        finished = False
        for line in text.splitlines():
            finished = await self._observe(line) or finished
        self._erase()
        self._raw(stream, text)
        # A step that has just finished is drawn at once: the run may end (and the block
        # be erased) before the next tick.
        if finished or time.monotonic() - self._last_draw >= MIN_REDRAW:
            self.draw()

    def _raw(self, stream: str, text: str) -> None:
        target = self._out if stream == "stdout" else self._err
        target.write(text)
        target.flush()

    async def _observe(self, line: str) -> bool:
        """Count what ``line`` says; return whether it finished its step's last task."""
        found = _LINE.search(line)
        if found is None:
            return False
        step = self._steps.get(found["step"])
        if step is None:
            return False
        message = found["message"]
        state = next((s for prefix, s in _STATES if message.startswith(prefix)), None)
        if state is None:
            return False
        self._run_id = found["run"]
        task = found["task"]
        step.tasks[task] = state
        if state is AttemptState.RUNNING and step.first_start is None:
            step.first_start = time.monotonic()
        done = state is AttemptState.SUCCEEDED
        if done and step.kind == "foreach":
            number = await self._splits(self._run_id, step.name, task)
            for other in self._steps.values():
                if other.scaled_by == step.name:
                    other.splits += number or 0
        return done and step.count(AttemptState.SUCCEEDED) >= max(step.splits, len(step.tasks))

    def lines(self, width: int = 100) -> list[str]:
        """The block's lines, each at most ``width`` characters."""
        name_width = max((len(name) for name in self._steps), default=4)
        title = f"{self._title}/{self._run_id}" if self._run_id else self._title
        lines = [f"{title}  {_clock(time.monotonic() - self._started)}"]
        lines.extend(
            f"{step.name:<{name_width}}  {self._describe(step)}".rstrip()
            for step in self._steps.values()
        )
        return [line[:width] for line in lines]

    def _describe(self, step: _Step) -> str:
        done = step.count(AttemptState.SUCCEEDED)
        running = step.count(AttemptState.RUNNING)
        failed = step.count(AttemptState.FAILED, AttemptState.TIMEOUT)
        if step.scaled_by is None:
            if failed:
                return "failed"
            if running:
                return "running"
            return "done" if done else "waiting"
        total = max(step.splits, len(step.tasks))
        if not total:
            return "waiting"
        filled = round(BAR_WIDTH * done / total)
        parts = [
            f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}]",
            f"{done:,}/{total:,}",
            f"{running:,} running",
            f"{failed:,} failed",
        ]
        if done and done < total and step.first_start is not None:
            rate = done / max(1e-6, time.monotonic() - step.first_start)
            parts.append(f"ETA {_clock((total - done) / rate)}")
        return "  ".join(parts)

    def draw(self) -> None:
        """Draw the block again below the last line printed."""
        if self._closed:
            return
        self._erase()
        width = max(20, shutil.get_terminal_size((100, 24)).columns - 1)
        lines = self.lines(width)
        self._out.write("".join(f"{line}\n" for line in lines))
        self._out.flush()
        self._drawn = len(lines)
        self._last_draw = time.monotonic()

    def _erase(self) -> None:
        if self._drawn:
            # Up to the block's first line, then clear to the end of the screen.
            self._out.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0

    async def run(self) -> None:
        """Redraw every :data:`TICK` seconds until cancelled, or until the terminal is gone
        (then the block stops; the run's own writes report a broken output)."""
        while not self._closed:
            await anyio.sleep(TICK)
            try:
                self.draw()
            except OSError:
                self._closed = True

    def close(self) -> None:
        """Erase the block for good: what stays on the terminal is the plain console."""
        self._erase()
        self._out.flush()
        self._closed = True


def terminal_display(
    request: RunRequest, *, progress: bool = True, out: TextIO | None = None
) -> ProgressDisplay | None:
    """The display for ``request`` when its output goes to a terminal, else ``None``.

    ``--quiet`` and ``--no-progress`` (``progress=False``) turn it off, and so does an
    output that is not a terminal (a pipe, a file, CI) or a terminal that cannot move its
    cursor (``TERM=dumb``).
    """
    target = out if out is not None else sys.stdout
    if not progress or request.quiet or not _is_terminal(target):
        return None
    if request.env.get("TERM") == "dumb":  # the run's environment: os.environ and env=
        return None
    from .._stores._bundle import open_stores

    flow = request.flow.name

    def lookup(run_id: str, step: str, task_id: str) -> int | None:
        with open_stores(request.config, root=request.root) as stores:
            records = stores.metadata.list_metadata(flow, run_id, step, task_id)
        values = [r.value for r in records if r.name == "foreach-num-splits"]
        return int(values[-1]) if values else None

    async def splits(run_id: str, step: str, task_id: str) -> int | None:
        return await anyio.to_thread.run_sync(lookup, run_id, step, task_id)

    return ProgressDisplay(flow, request.flow.graph, splits, out=target)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
