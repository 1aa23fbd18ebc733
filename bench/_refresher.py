"""A refresher process for the request-path benchmark: the embedded runtime keeping N accounts fresh.

    python -m bench._refresher --token-url URL --mint-url URL --accounts N --state DB --kv sqlite:PATH|redis:URL \
        --ready FILE --report FILE

Mints N grants at the sandbox, registers them with an access token that expires within the next two minutes
(so that every account is refreshed during the run), signals readiness by writing ``--ready``, runs until
SIGTERM, then writes its stats to ``--report``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from pathlib import Path

import httpx

from freshtoken.embedded import EmbeddedRuntime, SQLiteKV, SQLiteStore, run_until_signal

from ._runtime import CLIENT_NAME, account_key, codec, make_redis_kv, oauth_client


async def main(a: argparse.Namespace) -> None:
    kind, _, where = a.kv.partition(":")
    kv = SQLiteKV(where) if kind == "sqlite" else make_redis_kv(where)
    store = SQLiteStore(a.state, codec())
    runtime = EmbeddedRuntime(store=store, kv=kv, clients={CLIENT_NAME: oauth_client(a.token_url)},
                              concurrency=a.concurrency, startup_spread=0.0)
    rng = random.Random(7)
    grants: list[dict[str, object]] = []
    async with httpx.AsyncClient(trust_env=False) as hc:
        while len(grants) < a.accounts:
            n = min(500, a.accounts - len(grants))
            grants += (await hc.post(f"{a.mint_url}?n={n}")).json()
    now = time.time()
    for i, g in enumerate(grants):
        await runtime.register(
            account_key(i), client=CLIENT_NAME, refresh_token=str(g["refresh_token"]),
            access_token=str(g["access_token"]), expires_at=now + rng.uniform(a.min_expiry, a.max_expiry),
        )
    Path(a.ready).write_text(json.dumps({"registered": len(grants), "at": time.time()}))  # noqa: ASYNC240
    try:
        await run_until_signal(runtime)
    finally:
        Path(a.report).write_text(json.dumps(runtime.stats(), default=str))  # noqa: ASYNC240
        await runtime.aclose()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--token-url", required=True)
    p.add_argument("--mint-url", required=True)
    p.add_argument("--accounts", type=int, required=True)
    p.add_argument("--state", required=True)
    p.add_argument("--kv", required=True)
    p.add_argument("--ready", required=True)
    p.add_argument("--report", required=True)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--min-expiry", type=float, default=65.0)
    p.add_argument("--max-expiry", type=float, default=120.0)
    asyncio.run(main(p.parse_args()))
