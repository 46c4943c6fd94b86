"""Run a command that sees a folder on read-only media.

As root, permissions do not stop writes, so a folder is made truly read-only with a
read-only bind mount in a private mount namespace (``unshare -m``, util-linux): only the
command sees it, and it goes away with the command. Other users get the folder's write
permissions removed for the length of the command. Where neither works, the test is
skipped, saying why.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

__all__ = ("run_read_only",)

_READ_ONLY = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1"'
_MOUNT = _READ_ONLY + ' && shift && exec "$@"'
_PROBE = _READ_ONLY + ' && ! touch "$1/.probe" 2>/dev/null'


def run_read_only(
    folder: Path, argv: Sequence[str], **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` (text output captured) while ``folder`` is read-only for it."""
    kwargs = {"capture_output": True, "text": True, "timeout": 100, **kwargs}
    if os.geteuid() != 0:
        return _without_write_permission(folder, argv, kwargs)
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("a read-only folder needs 'unshare' (util-linux) when running as root")
    probe = subprocess.run(
        [unshare, "-m", "sh", "-c", _PROBE, "sh", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot make a read-only bind mount here: {probe.stderr.strip()}")
    command = [unshare, "-m", "sh", "-c", _MOUNT, "sh", str(folder), *argv]
    return subprocess.run(command, check=False, **kwargs)


def _without_write_permission(
    folder: Path, argv: Sequence[str], kwargs: dict[str, Any]
) -> subprocess.CompletedProcess[str]:
    paths = [folder, *folder.rglob("*")]
    modes = {path: path.stat().st_mode for path in paths}
    write = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
    for path in paths:
        path.chmod(modes[path] & ~write)
    try:
        return subprocess.run(list(argv), check=False, **kwargs)
    finally:
        for path in reversed(paths):
            path.chmod(stat.S_IMODE(modes[path]))
