"""What the recovery file costs when a save fails: one encrypted, fsynced rescue write and its clearing.

    python -m bench.rescue_cost        # 200 rescues in a temporary store on this machine's disk
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from pydantic import SecretStr

from freshtoken import AccountState
from freshtoken.embedded import AesGcmCodec, SQLiteStore


def main(n: int = 200) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "s.db", AesGcmCodec({"k1": os.urandom(32)}))
        writes, clears = [], []
        for i in range(n):
            state = AccountState(key=f"t:acme:u{i}", client="acme", refresh_token=SecretStr(f"rt-{i}"),
                                 access_token=SecretStr("at" * 30), generation=1)
            t0 = time.perf_counter()
            store.rescue_state(state.key, state)
            t1 = time.perf_counter()
            store.drop_rescue(state.key, 1)
            writes.append(t1 - t0)
            clears.append(time.perf_counter() - t1)
        size = (Path(tmp) / "s.db.recovery").stat().st_size
        store.close()

    def q(xs: list[float], p: float) -> float:
        return sorted(xs)[int(p * (len(xs) - 1))] * 1e3

    print(f"rescue write p50 {q(writes, .5):.2f} ms, p99 {q(writes, .99):.2f} ms; clear p50 {q(clears, .5):.2f} ms; "
          f"recovery file {size:,} bytes")


if __name__ == "__main__":
    main()
