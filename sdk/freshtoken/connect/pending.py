"""What a started connection remembers until its callback: the account key, the client, the PKCE verifier, the
redirect URI it was started with, the requested scopes and account data, and when it expires.

``state`` and ``verifier`` are secrets: never in ``repr``; :meth:`PendingConnection.to_json` is only ever stored
encrypted (:mod:`.sqlite_states`) or in memory (:mod:`.state_store`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class PendingConnection:
    state: str
    key: str
    client: str
    redirect_uri: str
    expires_at: float
    verifier: str | None = None
    scopes: tuple[str, ...] | None = None
    account_data: dict[str, str] = field(default_factory=dict)
    replace: bool = False

    def __repr__(self) -> str:
        return (f"PendingConnection(key={self.key!r}, client={self.client!r}, redirect_uri={self.redirect_uri!r}, "
                f"expires_at={self.expires_at!r})")

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> PendingConnection:
        data: dict[str, Any] = json.loads(text)
        scopes = data.get("scopes")
        data["scopes"] = None if scopes is None else tuple(scopes)
        return cls(**data)
