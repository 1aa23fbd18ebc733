"""A host process for the crash-safety faults test: tests/embedded/host_proc.py's embedded runtime on real
time, plus a commit log, so that the test can time the crash window from outside.

    FRESHTOKEN_ENCRYPTION_KEYS=... python crash_host.py DIR TOKEN_URL CONCURRENCY COMMIT_LOG

The commit log gets one line per state write that holds a finished refresh, written (one ``write(2)``,
O_APPEND, so a kill -9 loses nothing already written) right *after* SQLite committed it::

    <key> <wall time of the commit> <state.last_success_at> <sha256(refresh token)[:16]>

The refresh token itself is never written: only a hash, which the test matches against the sandbox's.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from freshtoken import OAuthClient, Plugins
from freshtoken.embedded import AesGcmCodec, EmbeddedRuntime, SQLiteKV, SQLiteStore, run_until_signal
from freshtoken.providers import generic
from freshtoken.state import AccountState


def rt_hash(refresh_token: str) -> str:
    return hashlib.sha256(refresh_token.encode()).hexdigest()[:16]


class CommitLoggingStore(SQLiteStore):
    """The real SQLiteStore; after each committed write of a finished refresh, one line to the log."""

    def __init__(self, path: Path, codec: Any, log_path: Path) -> None:
        super().__init__(path, codec)
        self._fd = os.open(str(log_path), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def save_state(self, key: str, state: AccountState, *, now: float | None = None, **cas: Any) -> None:
        super().save_state(key, state, now=now, **cas)
        if state.in_flight_since is None and state.last_success_at is not None and state.refresh_token is not None:
            committed = time.time()
            line = f"{key} {committed:.6f} {state.last_success_at:.6f} {rt_hash(state.refresh_token.get_secret_value())}\n"
            os.write(self._fd, line.encode())


def build(directory: Path, token_url: str, concurrency: int, log_path: Path) -> EmbeddedRuntime:
    plugins = Plugins(entry_points=False)
    plugins.register(generic, name="generic")
    client = OAuthClient(
        name="sandbox", provider="generic", client_id="sandbox-client", client_secret="sandbox-secret",
        provider_options={"token_url": token_url, "timeout": 5.0},
    )
    return EmbeddedRuntime(
        store=CommitLoggingStore(directory / "state.db", AesGcmCodec.from_env(), log_path),
        kv=SQLiteKV(directory / "kv.db"),
        clients={"sandbox": client}, plugins=plugins, concurrency=concurrency, startup_spread=0.3,
    )


async def main() -> None:
    runtime = build(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]))
    try:
        print("ready", flush=True)
        await run_until_signal(runtime)
    finally:
        await runtime.aclose()
    print("stopped", runtime.stats()["refreshes_ok"], flush=True)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(main())
