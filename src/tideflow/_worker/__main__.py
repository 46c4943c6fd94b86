"""Child entry point: ``python -m tideflow._worker FD``.

``FD`` is this process's end of a socket pair: the control channel, which user output
cannot touch. Standard output and error stay free for the step; they are the task's logs.
The process dies with its supervisor (see :mod:`._lifeline`).
"""

from __future__ import annotations

import os
import socket
import sys


def main(argv: list[str]) -> int:
    """Say ready, receive one task, run it, report the outcome."""
    from .._messages import Ready, TaskSpec
    from ._framing import recv_frame_blocking, send_frame_blocking
    from ._lifeline import Lifeline, die_with_parent
    from ._task import execute

    die_with_parent()
    sock = socket.socket(fileno=int(argv[0]))
    with sock:
        send_frame_blocking(sock, Ready(os.getpid()))
        spec = recv_frame_blocking(sock)
        if not isinstance(spec, TaskSpec):
            return 2
        lifeline = Lifeline(sock).start()
        done = execute(spec)
        sys.stdout.flush()
        sys.stderr.flush()
        lifeline.release()
        send_frame_blocking(sock, done)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
