"""A step reads its own run through the client while the store is slow to record.

``start`` starts a process that takes the SQLite metadata database's write lock
(``BEGIN IMMEDIATE``) and holds it for ``$HOLD_SECONDS`` (1 by default), and returns once
the lock is taken, so recording its end has to wait for the lock. ``end`` then reads
``start``'s artifact and its own task through the client (``current.run``,
``current.task``): it can only do so once the store holds them.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

from tideflow import FlowSpec, current, step

HOLDER = (
    "import sqlite3, sys, time\n"
    "conn = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
    "conn.execute('BEGIN IMMEDIATE')\n"
    "open(sys.argv[2], 'w').close()\n"
    "time.sleep(float(sys.argv[3]))\n"
    "conn.execute('ROLLBACK')\n"
)


class ReadsOwnRunFlow(FlowSpec):
    """start holds the store's write lock a moment; end reads start through the client."""

    @step
    def start(self):
        self.note = "from start"
        database = Path(os.environ["TIDEFLOW_ROOT"]) / "metadata.db"
        held = Path(f"{database}.held-{current.run_id}")
        seconds = os.environ.get("HOLD_SECONDS", "1")
        # A session of its own, and not this task's output: it outlives the task (and
        # ends by itself) without holding the task's end up.
        subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(database), str(held), seconds],
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        while not held.exists():
            time.sleep(0.01)
        self.next(self.end)

    @step
    def end(self):
        self.seen = current.run["start"].task.data.note
        self.me = current.task.pathspec


if __name__ == "__main__":
    ReadsOwnRunFlow()
