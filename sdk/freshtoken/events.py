"""Event payloads handed to event hooks (alerting, metrics). None of them carries a secret."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


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


@dataclass(frozen=True)
class RefreshFailed(Event):
    kind: str
    error: str
    consecutive_failures: int
    retry_at: float | None
    #: True once per failure streak, when ``consecutive_failures`` reaches the policy's alert threshold,
    #: and on the first failure of a misconfiguration.
    alert: bool


@dataclass(frozen=True)
class ReauthRequiredEvent(Event):
    error: str


@dataclass(frozen=True)
class TokenExpired(Event):
    """The access token in KV has expired and no refresh has replaced it."""

    expired_at: float
    consecutive_failures: int


@dataclass(frozen=True)
class RefreshTokenExpiring(Event):
    refresh_token_expires_at: float


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
