"""The recovery file: where a provider's answer waits while the state database will not take it.

When saving a refresh's result fails (disk full, "database is locked" past the busy timeout), the refresher
keeps the tokens in memory and retries the save; on the first failure the state is also written here, so that
a ``kill -9`` during the retries loses nothing. Once the database holds it, the entry is cleared. The next
:class:`~freshtoken.embedded.SQLiteStore` opened on the database imports the entries newer than their row
*first* (:func:`import_entries`), before any alarm can run, and makes those accounts' alarms due so that the
KV record is rewritten from the imported state.

The file is ``<database>.recovery``, mode 0600, and its space is **reserved when the store opens** (a 4 KiB
header and ``slots`` fixed slots of ``slot_size`` bytes, allocated with ``posix_fallocate``): a rescue only
overwrites blocks the file already owns, so it works on a full disk (not on copy-on-write file systems such
as btrfs or ZFS, where an overwrite needs new blocks). A slot holds::

    b"FTR1" | generation (u64) | payload length (u32) | sha256(account key)[:16] | sha256(payload) | payload

and the payload is ``<account key>\\n<sealed>``, where ``sealed`` is the state JSON exactly as the database
row holds it (secrets AES-GCM encrypted and bound to the account) sealed once more, as a whole, with the
store's codec bound to ``freshtoken-recovery:<account key>``: no token and no account data is readable in the
file. A slot is written with one ``pwrite`` and ``fdatasync``; a torn slot (the process died while writing it)
fails its digest and is ignored, as it was never reported written. Writers take an exclusive ``flock`` on the
file, so two processes on one database (``serve`` and a CLI command) share it safely.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import sqlite3
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import FreshtokenError
from ..state import AccountState

if TYPE_CHECKING:
    from ..storage import SecretCodec
    from .sqlite_store import SQLiteStore

log = logging.getLogger("freshtoken.embedded.recovery")

FILE_MAGIC = b"FTRECOV1"
SLOT_MAGIC = b"FTR1"
#: The file header: magic and slot size; slots start after it.
HEADER_SIZE = 4096
_FILE_HEAD = struct.Struct(">8sI")
#: magic, generation, payload length, sha256(key)[:16], sha256(payload)
_SLOT_HEAD = struct.Struct(">4sQI16s32s")
DEFAULT_SLOTS = 64
DEFAULT_SLOT_SIZE = 16384
#: Associated data prefix of the outer seal (so a recovery payload cannot pass for a database value).
AAD_PREFIX = "freshtoken-recovery:"


class RecoveryError(FreshtokenError):
    """A provider's answer could not be written to, or imported from, the recovery file."""


@dataclass(frozen=True)
class RecoveryEntry:
    """One rescued state: ``state`` is the JSON the database row would hold (secrets encrypted)."""

    slot: int
    key: str
    generation: int
    state: str


def _key_digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()[:16]


def recovery_path(database: str | os.PathLike[str]) -> Path:
    return Path(f"{os.fspath(database)}.recovery")


class RecoveryFile:
    """The pre-allocated, encrypted recovery file of one state database. See the module docstring.

    ``seal_codec(key)`` returns the codec that seals an entry of account ``key`` (the store's codec bound to
    ``freshtoken-recovery:<key>``). The file is opened lazily and reopened after :meth:`close`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        seal_codec: Callable[[str], SecretCodec],
        *,
        slots: int = DEFAULT_SLOTS,
        slot_size: int = DEFAULT_SLOT_SIZE,
    ) -> None:
        if slots < 1 or slot_size < 1024:
            raise ValueError("a recovery file needs at least one slot of at least 1 KiB")
        self.path = Path(path)
        self._seal_codec = seal_codec
        self._want_slots = int(slots)
        self.slot_size = int(slot_size)
        self._lock = threading.RLock()
        self._fd: int | None = None
        #: False when the space could not be reserved (e.g. the disk was already full at open)
        self.reserved = False
        self._open()

    # -- file ---------------------------------------------------------------------------------------------
    def _open(self) -> int:
        if self._fd is not None:
            return self._fd
        created = not self.path.exists()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            os.fchmod(fd, 0o600)
            with self._flock(fd):
                head = os.pread(fd, _FILE_HEAD.size, 0)
                if len(head) == _FILE_HEAD.size and head[:8] == FILE_MAGIC:
                    self.slot_size = _FILE_HEAD.unpack(head)[1]  # the file's own geometry wins
                else:
                    os.pwrite(fd, _FILE_HEAD.pack(FILE_MAGIC, self.slot_size).ljust(HEADER_SIZE, b"\0"), 0)
                self.reserved = self._reserve(fd, HEADER_SIZE + self._want_slots * self.slot_size)
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            if created:  # do not leave a header-less file behind (e.g. the disk was full)
                self.path.unlink(missing_ok=True)
            raise
        if created:
            _fsync_dir(self.path.parent)
        self._fd = fd
        return fd

    def _reserve(self, fd: int, size: int) -> bool:
        """Allocate the file's blocks up to ``size`` (never shrinks it); False if the space is not there."""
        try:
            current = os.fstat(fd).st_size
            if hasattr(os, "posix_fallocate"):
                os.posix_fallocate(fd, 0, max(size, current))
            elif current < size:  # no fallocate: write the zeros ourselves
                os.pwrite(fd, b"\0" * (size - current), current)
            return True
        except OSError as exc:
            log.warning(
                "could not reserve %d bytes for the recovery file %s (%s): a provider answer that cannot be "
                "saved while the disk is full may then be held in memory only", size, self.path, exc.strerror,
            )
            return False

    @staticmethod
    @contextmanager
    def _flock(fd: int) -> Iterator[None]:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    @contextmanager
    def _locked(self) -> Iterator[int]:
        with self._lock:
            fd = self._open()
            with self._flock(fd):
                yield fd

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def _slots(self, fd: int) -> int:
        return max(0, (os.fstat(fd).st_size - HEADER_SIZE) // self.slot_size)

    def _offset(self, slot: int) -> int:
        return HEADER_SIZE + slot * self.slot_size

    def _heads(self, fd: int) -> Iterator[tuple[int, tuple[bytes, int, int, bytes, bytes]]]:
        for slot in range(self._slots(fd)):
            raw = os.pread(fd, _SLOT_HEAD.size, self._offset(slot))
            if len(raw) == _SLOT_HEAD.size and raw[:4] == SLOT_MAGIC:
                yield slot, _SLOT_HEAD.unpack(raw)

    # -- entries ------------------------------------------------------------------------------------------
    def put(self, key: str, generation: int, state: str) -> int:
        """Write ``state`` (the row's JSON) durably; returns its slot. :class:`RecoveryError` if it cannot."""
        sealed = self._seal_codec(key).encode(state)
        payload = key.encode("utf-8") + b"\n" + sealed.encode("ascii")
        if _SLOT_HEAD.size + len(payload) > self.slot_size:
            raise RecoveryError(
                f"the state of {key} ({len(payload)} bytes sealed) does not fit a recovery slot of "
                f"{self.slot_size} bytes"
            )
        head = _SLOT_HEAD.pack(SLOT_MAGIC, int(generation), len(payload), _key_digest(key),
                               hashlib.sha256(payload).digest())
        try:
            with self._locked() as fd:
                used = {slot for slot, _ in self._heads(fd)}
                slot = next((s for s in range(self._slots(fd)) if s not in used), None)
                if slot is None:  # every reserved slot is taken: grow (may fail on a full disk)
                    slot = self._slots(fd)
                    if not self._reserve(fd, self._offset(slot + 1)):
                        raise OSError("no free slot and no space to add one")
                os.pwrite(fd, head + payload, self._offset(slot))
                _datasync(fd)
        except OSError as exc:
            raise RecoveryError(
                f"could not write the recovery file {self.path} ({exc.strerror or exc})"
            ) from None
        return slot

    def drop(self, key: str, generation: int) -> int:
        """Clear the entries of ``key`` up to ``generation`` (the database holds that or newer)."""
        digest = _key_digest(key)
        with self._locked() as fd:
            slots = [s for s, (_, gen, _, kd, _) in self._heads(fd) if kd == digest and gen <= generation]
            self._zero(fd, slots)
        return len(slots)

    def clear(self, entries: list[RecoveryEntry]) -> None:
        """Clear these entries (after an import), unless a slot was reused meanwhile."""
        with self._locked() as fd:
            heads = dict(self._heads(fd))
            slots = [e.slot for e in entries if e.slot in heads and heads[e.slot][1] == e.generation
                     and heads[e.slot][3] == _key_digest(e.key)]
            self._zero(fd, slots)

    def _zero(self, fd: int, slots: list[int]) -> None:
        for slot in slots:
            os.pwrite(fd, b"\0" * _SLOT_HEAD.size, self._offset(slot))
        if slots:
            _datasync(fd)

    def entries(self) -> list[RecoveryEntry]:
        """Every whole entry, opened. A torn slot is cleared; one that does not decrypt is kept and logged."""
        out: list[RecoveryEntry] = []
        with self._locked() as fd:
            torn: list[int] = []
            for slot, (_, generation, length, kd, digest) in list(self._heads(fd)):
                payload = os.pread(fd, length, self._offset(slot) + _SLOT_HEAD.size)
                key_b, sep, sealed = payload.partition(b"\n")
                if (
                    length > self.slot_size - _SLOT_HEAD.size or len(payload) != length or not sep
                    or hashlib.sha256(payload).digest() != digest or _key_digest(key_b.decode("utf-8", "replace")) != kd
                ):
                    torn.append(slot)
                    continue
                key = key_b.decode("utf-8")
                try:
                    state = self._seal_codec(key).decode(sealed.decode("ascii"))
                except Exception as exc:
                    log.error("recovery file %s: the entry of %s (generation %d) does not open (%s); kept",
                              self.path, key, generation, exc.__class__.__name__)
                    continue
                out.append(RecoveryEntry(slot, key, int(generation), state))
            self._zero(fd, torn)
        return out

    def pending(self) -> int:
        """How many slots hold an entry."""
        with self._locked() as fd:
            return sum(1 for _ in self._heads(fd))


def _datasync(fd: int) -> None:
    (getattr(os, "fdatasync", None) or os.fsync)(fd)


def _fsync_dir(directory: Path) -> None:
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def import_entries(store: SQLiteStore, recovery: RecoveryFile) -> int:
    """Import the rescued states newer than their rows into ``store``, make those alarms due, clear the file.

    Runs when the store opens, before any alarm. Returns how many rows were replaced. If the database cannot
    take them (still full, still locked) nothing is cleared and :class:`RecoveryError` says so: starting
    without them would refresh with refresh tokens the provider has already rotated away.
    """
    entries = recovery.entries()
    if not entries:
        return 0
    newest: dict[str, RecoveryEntry] = {}
    for e in entries:
        if e.key not in newest or e.generation > newest[e.key].generation:
            newest[e.key] = e
    imported: list[str] = []
    try:
        with store._tx() as db:
            for key, e in newest.items():
                row = db.execute("SELECT state FROM accounts WHERE key = ?", (key,)).fetchone()
                if row is None:
                    log.warning("recovery file: %s is no longer registered; its rescued state is dropped", key)
                    continue
                stored_generation = int(json.loads(row[0]).get("generation") or 0)
                if e.generation <= stored_generation:
                    continue  # the database caught up (or moved on) before the entry was cleared
                state = AccountState.load(e.state, store.codec_for(key))  # it decrypts: it is whole
                due = state.last_success_at if state.last_success_at is not None else time.time()
                db.execute(
                    "UPDATE accounts SET client = ?, status = ?, state = ?, in_flight_since = NULL, alarm_at = ?, "
                    "updated_at = ? WHERE key = ?",
                    (state.client, state.status.value, e.state, due, time.time(), key),
                )
                imported.append(key)
    except sqlite3.Error as exc:
        raise RecoveryError(
            f"{len(newest)} provider answer(s) wait in {recovery.path} and cannot be written to the state "
            f"database yet ({exc}); free space or stop what holds the database, then start again"
        ) from None
    recovery.clear(entries)
    if imported:
        log.warning(
            "imported %d provider answer(s) saved in %s when the database could not take them (e.g. %s); "
            "their alarms run now", len(imported), recovery.path, ", ".join(imported[:5]),
        )
    return len(imported)
