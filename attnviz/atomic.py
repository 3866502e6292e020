"""Atomic writes: a file appears whole under its final name, or not at all.

The temporary file is named after the final one, the host and the writing process
(`.<name>.<host>-<pid>.<random>.tmp`), so that the next write of the same file removes what
a killed writer (SIGKILL, a node failure) left behind.
"""

from __future__ import annotations

import glob
import os
import re
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STALE_SECONDS = 24 * 3600  # another host's temp file: its writer is gone after a day


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname()) or "host"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def remove_stale_temp_files(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files of earlier writes of `path` whose writer is gone (its process
    on this host has ended, or another host's file is older than a day); return them."""
    path = Path(path)
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.(?:(.+)-(\d+)\.)?[^.]*\.tmp$")
    removed = []
    for candidate in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        match = pattern.match(candidate.name)
        if match is None:
            continue
        host, pid = match.groups()
        try:
            old = time.time() - candidate.stat().st_mtime > STALE_SECONDS
        except FileNotFoundError:
            continue
        ours = host == _host() and pid is not None
        if (ours and not _alive(int(pid))) or (not ours and old):
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it to `path` only if the block succeeds.
    Temporary files of earlier, killed writes of `path` are removed first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(path)
    prefix = f".{path.name}.{_host()}-{os.getpid()}."
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it 0600; give it a normal file's mode
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
