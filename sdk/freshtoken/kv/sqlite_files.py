"""SQLite files that hold tokens: :func:`connect` (autocommit, WAL, ``synchronous=NORMAL``, a busy timeout), and
the files created readable by their owner only (mode 0600). Shared by the KV file (:mod:`freshtoken.kv.sqlite`)
and the embedded runtime's state database, with nothing of either.

SQLite creates a database with the process umask (usually 0644) and its ``-wal`` / ``-shm`` files with the
database's mode. So the database file is created first, empty and 0600, with ``O_EXCL`` (an existing file is
never touched), and once WAL is on its side files are made 0600 too when the database itself is private. An
existing database that other users can read is left as it is (its owner may have opened it to a gateway's
group on purpose) and logged once.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

log = logging.getLogger("freshtoken.embedded.files")

PRIVATE_MODE = 0o600
SIDE_FILES = ("-wal", "-shm", "-journal")
_warned: set[str] = set()


def create_private(path: Path) -> bool:
    """Create ``path`` empty with mode 0600 unless it exists; True when it was created here."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), PRIVATE_MODE)
    except FileExistsError:
        _warn_if_shared(path)
        return False
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, PRIVATE_MODE)  # exactly 0600, whatever the umask
    finally:
        os.close(fd)
    return True


def private_side_files(path: Path) -> None:
    """Make the ``-wal`` / ``-shm`` / ``-journal`` files of a private database 0600 (SQLite gives them the
    database's mode already; an older run may have left them wider)."""
    try:
        if path.stat().st_mode & 0o077:
            return  # the database is shared on purpose: its side files follow it, as SQLite does
    except OSError:
        return
    for suffix in SIDE_FILES:
        side = path.with_name(path.name + suffix)
        try:
            if side.stat().st_mode & 0o077:
                os.chmod(side, PRIVATE_MODE)
        except OSError:
            continue


def _warn_if_shared(path: Path) -> None:
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        return
    if mode & 0o077 and str(path) not in _warned:
        _warned.add(str(path))
        log.warning("%s holds tokens and other users can read it (mode %03o): 'chmod 600' it unless a gateway "
                    "running as another user reads it", path, mode)


def connect(path: str | os.PathLike[str], *, readonly: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode, WAL, ``synchronous=NORMAL``, with a busy timeout."""
    p = Path(path)
    if readonly:
        conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True, isolation_level=None, check_same_thread=False,
                               timeout=5.0)
    else:
        on_disk = str(p) not in ("", ":memory:")
        if on_disk:
            p.parent.mkdir(parents=True, exist_ok=True)
            create_private(p)  # 0600 before SQLite creates it with the umask (it holds tokens)
        conn = sqlite3.connect(str(p), isolation_level=None, check_same_thread=False, timeout=5.0)
        conn.execute("PRAGMA journal_mode=WAL")
        if on_disk:
            private_side_files(p)  # -wal, -shm
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn
