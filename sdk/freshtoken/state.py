"""The durable per-account state a refresher keeps in its storage.

Secrets (refresh token, access token, the previous refresh token kept for a provider's grace window)
are ``SecretStr`` in memory and pass through a :class:`~freshtoken.storage.SecretCodec` on their way to
storage, so that a runtime can encrypt them at rest.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr

if TYPE_CHECKING:
    from .storage import SecretCodec

SECRET_FIELDS = ("refresh_token", "access_token", "previous_refresh_token")
STATE_VERSION = 1


class Status(StrEnum):
    PENDING = "pending"  # registered, no token refreshed by us yet
    ACTIVE = "active"  # last refresh succeeded
    RETRYING = "retrying"  # last refresh failed in a retryable way
    MISCONFIGURED = "misconfigured"  # the client is wrong; retried slowly so a fix heals it
    REAUTH_REQUIRED = "reauth_required"  # the grant is dead; no more refreshes until re-registered
    STATIC = "static"  # the token never expires: nothing to schedule


class AccountState(BaseModel):
    """Everything the refresher needs to survive a restart. Times are epoch seconds."""

    model_config = ConfigDict(extra="forbid")

    v: int = STATE_VERSION
    key: str
    client: str = Field(description="Name of the configured OAuth client this account refreshes with.")
    account_data: dict[str, str] = Field(default_factory=dict)
    status: Status = Status.PENDING

    refresh_token: SecretStr | None = None
    refresh_token_expires_at: float | None = None
    previous_refresh_token: SecretStr | None = None
    rotated_at: float | None = None

    access_token: SecretStr | None = None
    token_type: str = "Bearer"  # noqa: S105 - a scheme name, not a secret
    scope: str | None = None
    issued_at: float | None = None
    expires_at: float | None = None
    extras: dict[str, Any] = Field(default_factory=dict)

    generation: int = 0
    kv_generation: int = 0
    refresh_count: int = 0
    failures: int = 0
    last_error: str | None = None
    last_error_kind: str | None = None
    last_success_at: float | None = None
    last_attempt_at: float | None = None
    next_refresh_at: float | None = None
    registered_at: float | None = None
    in_flight_since: float | None = None

    alerted_failures: bool = False
    alerted_expired: bool = False
    alerted_reauth: bool = False
    alerted_refresh_token_expiry: bool = False

    #: plaintext -> the value it was stored as, so an unchanged secret is not encrypted again on every save
    _sealed: dict[str, str] = PrivateAttr(default_factory=dict)

    def dump(self, codec: SecretCodec) -> str:
        """Serialise to JSON, secrets encoded by ``codec``.

        A secret that has not changed since it was loaded or last saved keeps its stored form when the codec
        says that form is current (``codec.reusable(stored)``: same key, same account); anything else is
        encoded afresh.
        """
        data = self.model_dump(mode="json", exclude=set(SECRET_FIELDS))
        reusable = getattr(codec, "reusable", None)
        sealed: dict[str, str] = {}
        for name in SECRET_FIELDS:
            value: SecretStr | None = getattr(self, name)
            if value is None:
                data[name] = None
                continue
            plain = value.get_secret_value()
            stored = self._sealed.get(plain)
            if stored is None or reusable is None or not reusable(stored):
                stored = codec.encode(plain)
            data[name] = sealed[plain] = stored
        self._sealed = sealed
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def load(cls, text: str | bytes, codec: SecretCodec) -> AccountState:
        data = json.loads(text)
        sealed: dict[str, str] = {}
        for name in SECRET_FIELDS:
            if data.get(name) is not None:
                stored = data[name]
                data[name] = codec.decode(stored)
                sealed[data[name]] = stored
        state = cls.model_validate(data)
        state._sealed = sealed
        return state

    def public(self) -> dict[str, Any]:
        """A view safe to show anyone with admin rights: no secret, not even masked."""
        data = self.model_dump(mode="json", exclude=set(SECRET_FIELDS))
        data["has_refresh_token"] = self.refresh_token is not None
        data["has_access_token"] = self.access_token is not None
        return data
