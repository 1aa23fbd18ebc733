"""Getting the first grant: the authorization-code flow with PKCE (S256) and a one-time, expiring ``state``.

* :mod:`.pkce` — the verifier/challenge pair and the ``state`` value;
* :mod:`.pending` — what a started connection remembers (key, client, verifier, redirect URI, expiry);
* :mod:`.state_store` — where it waits for the callback: one-time, expiring (in memory for the CLI);
* :mod:`.sqlite_states` — the same in the embedded SQLite database, encrypted with the store's codec (admin API);
* :mod:`.flow` — :class:`ConnectFlow`: ``start`` gives the authorization URL, ``finish`` exchanges the code and
  registers the account through the runtime's normal registration path;
* :mod:`.loopback` — the RFC 8252 loopback redirect listener of ``freshtoken connect``.
"""

from __future__ import annotations

from .errors import ConnectError
from .flow import ConnectFlow, ConnectResult, ConnectStart
from .pending import PendingConnection
from .pkce import PkcePair, new_pkce, new_state
from .state_store import MemoryStateStore, StateStore

__all__ = [
    "ConnectError",
    "ConnectFlow",
    "ConnectResult",
    "ConnectStart",
    "MemoryStateStore",
    "PendingConnection",
    "PkcePair",
    "StateStore",
    "new_pkce",
    "new_state",
]
