"""A host process for the crash tests: the embedded runtime on real time, until SIGTERM (or SIGKILL).

    FRESHTOKEN_ENCRYPTION_KEYS=... python host_proc.py DIR TOKEN_URL [CONCURRENCY]
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

from freshtoken import OAuthClient, Plugins
from freshtoken.embedded import AesGcmCodec, EmbeddedRuntime, SQLiteKV, SQLiteStore, run_until_signal
from freshtoken.providers import generic


def build(directory: Path, token_url: str, concurrency: int = 16, startup_spread: float = 0.3) -> EmbeddedRuntime:
    plugins = Plugins(entry_points=False)
    plugins.register(generic, name="generic")
    client = OAuthClient(
        name="sandbox", provider="generic", client_id="sandbox-client", client_secret="sandbox-secret",
        provider_options={"token_url": token_url, "timeout": 5.0},
    )
    return EmbeddedRuntime(
        store=SQLiteStore(directory / "state.db", AesGcmCodec.from_env()),
        kv=SQLiteKV(directory / "kv.db"),
        clients={"sandbox": client}, plugins=plugins, concurrency=concurrency, startup_spread=startup_spread,
    )


async def main() -> None:
    runtime = build(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 16)
    try:
        print("ready", flush=True)
        await run_until_signal(runtime)
    finally:
        await runtime.aclose()
    print("stopped", runtime.stats()["refreshes_ok"], flush=True)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(main())
