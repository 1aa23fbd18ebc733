"""Insert many accounts into a :class:`~freshtoken.embedded.SQLiteStore` quickly, through its own API.

``SQLiteStore.save_state`` and ``set_alarm`` (state encrypted with the store's codec, bound to each key, as
``register`` writes it), batched inside the store's transaction helper so that a million rows take a minute,
not an hour of one-commit-per-row. The accounts are exactly what ``register`` leaves behind for an account
without a usable access token: status ``pending``, due at ``alarm_at``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pydantic import SecretStr

from freshtoken import AccountState
from freshtoken.embedded import SQLiteStore

from ._runtime import CLIENT_NAME, account_key


def insert_accounts(store: SQLiteStore, start: int, count: int, *, alarm_at: Callable[[int], float],
                    refresh_token: Callable[[int], str], batch: int = 5000,
                    progress: Callable[[int], None] | None = None) -> float:
    """Insert accounts ``start .. start+count-1``; returns the seconds it took."""
    t0 = time.monotonic()
    now = time.time()
    template = AccountState(key=account_key(start), client=CLIENT_NAME, registered_at=now,
                            refresh_token=SecretStr("x"))
    done = 0
    while done < count:
        n = min(batch, count - done)
        with store._tx():  # one transaction per batch; save_state/set_alarm re-enter the store's lock
            for i in range(start + done, start + done + n):
                key = account_key(i)
                at = alarm_at(i)
                state = template.model_copy(update={"key": key, "refresh_token": SecretStr(refresh_token(i)),
                                                    "next_refresh_at": at})
                store.save_state(key, state, now=now)
                store.set_alarm(key, at)
        done += n
        if progress is not None:
            progress(done)
    return time.monotonic() - t0
