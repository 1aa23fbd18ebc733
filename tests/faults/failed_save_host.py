"""A host process for the failed-save tests: the embedded runtime on real time, the logging alerter on stderr,
and a short SQLite busy timeout (so that "database is locked" comes after 0.2 s, not 5 s), until SIGTERM or
SIGKILL.

    FRESHTOKEN_ENCRYPTION_KEYS=... python failed_save_host.py DIR TOKEN_URL
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

from freshtoken import OAuthClient, Plugins
from freshtoken.embedded import AesGcmCodec, EmbeddedRuntime, SQLiteKV, SQLiteStore, run_until_signal
from freshtoken.observability.alerts import LoggingAlerter
from freshtoken.providers import generic


def build(directory: Path, token_url: str) -> EmbeddedRuntime:
    plugins = Plugins(entry_points=False)
    plugins.register(generic, name="generic")
    plugins.register(LoggingAlerter(), name="alerts")
    client = OAuthClient(
        name="sandbox", provider="generic", client_id="sandbox-client", client_secret="sandbox-secret",
        provider_options={"token_url": token_url, "timeout": 30.0},
    )
    store = SQLiteStore(directory / "state.db", AesGcmCodec.from_env())
    store._db().execute("PRAGMA busy_timeout=200")
    return EmbeddedRuntime(
        store=store, kv=SQLiteKV(directory / "kv.db"), clients={"sandbox": client}, plugins=plugins,
        concurrency=16, startup_spread=0.0,
    )


async def main() -> None:
    runtime = build(Path(sys.argv[1]), sys.argv[2])
    try:
        print("ready", flush=True)
        await run_until_signal(runtime)
    finally:
        await runtime.aclose()
    print("stopped", flush=True)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    asyncio.run(main())
