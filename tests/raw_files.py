"""The raw bytes of SQLite files, read by a child process (``cat``).

POSIX record locks belong to a process and a file: when a process closes *any* descriptor of a file, it loses
every lock it holds on it (https://www.sqlite.org/howtocorrupt.html, 2.2). A test that opens ``state.db-shm``
with ``open()`` while it holds connections to ``state.db`` would drop SQLite's locks under them, letting
another process write at the same time or re-initialise the shared memory under this one (SIGBUS). A child
process's descriptors are its own: reading through one touches no lock of this process.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from pathlib import Path


def raw_bytes(paths: Iterable[Path]) -> bytes:
    """The files' bytes, one after another (a file gone since it was listed reads as nothing)."""
    return b"".join(raw_file(p) for p in paths)


def raw_file(path: Path) -> bytes:
    """The file's bytes; nothing for a file that is gone. A file that exists and cannot be read fails the test
    (a scan for leaked secrets must not pass because it read nothing)."""
    done = subprocess.run(["cat", "--", str(path)], capture_output=True, timeout=60)
    if done.returncode != 0:
        if path.exists():
            raise AssertionError(f"cannot read {path}: {done.stderr.decode(errors='replace').strip()}")
        return b""
    return done.stdout
