"""Event payloads handed to event hooks (alerting, metrics, logs, history). None of them carries a secret.

``endpoint`` fields hold the token endpoint's host and path only (:func:`endpoint_label`): never a scheme's
user info, a query string or a fragment.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit


@functools.lru_cache(maxsize=1024)
def endpoint_label(url: str) -> str:
    """``host[:port]/path`` of ``url``: no user info, query or fragment (they may carry secrets)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return ""
    if not host:
        return ""
    if ":" in host:
        host = f"[{host}]"
    return f"{host}{f':{port}' if port else ''}{parts.path}"


@dataclass(frozen=True)
class Event:
    key: str
    provider: str
    at: float

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["event"] = type(self).__name__
        return data


@dataclass(frozen=True)
class RefreshSucceeded(Event):
    generation: int
    expires_at: float | None
    next_refresh_at: float | None
    rotated: bool
    duration: float
    endpoint: str = ""
    #: How long after its due time (the alarm) this refresh started; negative: early (a manual refresh).
    lateness: float | None = None


@dataclass(frozen=True)
class RefreshFailed(Event):
    kind: str
    error: str
    consecutive_failures: int
    retry_at: float | None
    #: True once per failure streak, when ``consecutive_failures`` reaches the policy's alert threshold,
    #: and on the first failure of a misconfiguration.
    alert: bool
    generation: int = 0
    duration: float = -1.0
    endpoint: str = ""
    lateness: float | None = None


@dataclass(frozen=True)
class ReauthRequiredEvent(Event):
    error: str
    kind: str = ""
    generation: int = 0
    duration: float = -1.0
    endpoint: str = ""


@dataclass(frozen=True)
class TokenExpired(Event):
    """The access token in KV has expired and no refresh has replaced it."""

    expired_at: float
    consecutive_failures: int


@dataclass(frozen=True)
class RefreshTokenExpiring(Event):
    refresh_token_expires_at: float


@dataclass(frozen=True)
class BacklogRising(Event):
    """The runtime's due backlog drains in ``drain_seconds`` (``due × latency / concurrency``), ``ratio`` of
    ``lead``: tokens will be served expired if it grows further, and none has yet. Fleet-wide: ``key`` is
    ``"*"`` and ``provider`` ``"*"``. Raised once when the ratio reaches the threshold (docs/capacity.md)."""

    due: int
    latency: float
    concurrency: int
    lead: float
    drain_seconds: float
    ratio: float


@dataclass(frozen=True)
class RotatedTokenNotDurable(Event):
    """The provider answered (with a rotated refresh token when ``rotated``) but the state could not be saved.

    The tokens are kept in memory and the save is retried with backoff; until it succeeds nothing else touches
    the account (no KV write, no new alarm). ``rescued`` says whether the runtime also holds the answer in a
    durable, encrypted recovery file (the embedded runtime: ``<database>.recovery``), so that the process may
    die without losing it. Raised once per failed save, on its first failure.
    """

    generation: int
    rotated: bool
    error: str
    rescued: bool
    retry_at: float


@dataclass(frozen=True)
class AccountRecovered(Event):
    """An account is healthy again: a refresh succeeded after ``failures`` failed ones (``via="refresh"``), or an
    account that needed re-authorisation was registered again (``via="reauth"``, e.g. re-connected).
    ``alerted`` says whether the streak that ended had raised an alert (an alerter pairs the two)."""

    generation: int
    previous_status: str
    failures: int
    alerted: bool
    via: str


@dataclass(frozen=True)
class AccountRegistered(Event):
    """An account was registered (``replaced``: over an existing one)."""

    generation: int
    status: str
    client: str
    replaced: bool


@dataclass(frozen=True)
class AccountRemoved(Event):
    """An account was removed (``revoked``: its refresh token was offered for revocation)."""

    revoked: bool
