"""The durable per-account state a refresher keeps in its storage.

Secrets (refresh token, access token, the previous refresh token kept for a provider's grace window)
are ``SecretStr`` in memory and pass through a :class:`~freshtoken.codec.SecretCodec` on their way to
storage, so that a runtime can encrypt them at rest.

The state's transitions are its own methods, so that the refresher only decides *which* happens:
:meth:`AccountState.begin_attempt` (a refresh starts), :meth:`AccountState.apply_tokens` (the provider
answered), :meth:`AccountState.record_failure` (a retryable or configuration failure) and
:meth:`AccountState.mark_reauth` (the grant is dead). None of them does I/O.
"""

from __future__ import annotations

import json
import random
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, ValidationError

from .errors import Misconfigured, RefreshError, RetryableError, UnexplainedClientError
from .lead import refresh_at

if TYPE_CHECKING:
    from .codec import SecretCodec
    from .retry import RetryPolicy
    from .tokens import TokenSet

SECRET_FIELDS = ("refresh_token", "access_token", "previous_refresh_token")
_SECRETS = set(SECRET_FIELDS)
_json_string = json.JSONEncoder().encode
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
    #: How the next token is obtained (:mod:`freshtoken.strategies`); machine strategies hold no refresh token.
    strategy: str = "refresh_token"
    status: Status = Status.PENDING

    refresh_token: SecretStr | None = None
    refresh_token_expires_at: float | None = None
    previous_refresh_token: SecretStr | None = None
    rotated_at: float | None = None

    access_token: SecretStr | None = None
    token_type: str = "Bearer"
    scope: str | None = None
    issued_at: float | None = None
    expires_at: float | None = None
    extras: dict[str, Any] = Field(default_factory=dict)

    generation: int = 0
    kv_generation: int = 0
    refresh_count: int = 0
    failures: int = 0
    #: Consecutive failures that were a 4xx without an error code (the provider's 4xx-without-code rule).
    unexplained_failures: int = 0
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
        # pydantic serialises the plain fields in one pass; the encoded secrets are appended to the object
        text = self.model_dump_json(exclude=_SECRETS)
        private = self.__pydantic_private__ if self.__pydantic_private__ is not None else {}
        kept: dict[str, str] = private.get("_sealed") or {}
        reusable = getattr(codec, "reusable", None)
        sealed: dict[str, str] = {}
        parts = [text[:-1]]
        for name in SECRET_FIELDS:
            value: SecretStr | None = self.__dict__[name]
            if value is None:
                parts.append(f',"{name}":null')
                continue
            plain = value.get_secret_value()
            stored = kept.get(plain)
            if stored is None or reusable is None or not reusable(stored):
                stored = codec.encode(plain)
            sealed[plain] = stored
            parts.append(f',"{name}":{_json_string(stored)}')
        self._sealed = sealed
        parts.append("}")
        return "".join(parts)

    @classmethod
    def load(cls, text: str | bytes, codec: SecretCodec) -> AccountState:
        """The state serialised in ``text`` (by :meth:`dump`), its secrets decoded by ``codec``.

        pydantic parses and validates the JSON in one pass, the secrets as their stored forms; each is then decoded
        and its stored form remembered. Text that pass refuses is read by :meth:`_load_parsed` (Python's JSON, then
        the model), which raises what it always raised (a JSON error, a codec's error, a validation error)."""
        try:
            state = cls.model_validate_json(text)
        except ValidationError:
            return cls._load_parsed(text, codec)
        fields = state.__dict__
        sealed: dict[str, str] = {}
        for name in SECRET_FIELDS:
            value: SecretStr | None = fields[name]
            if value is not None:
                stored = value.get_secret_value()
                plain = codec.decode(stored)
                fields[name] = SecretStr(plain)
                sealed[plain] = stored
        state._sealed = sealed
        return state

    @classmethod
    def _load_parsed(cls, text: str | bytes, codec: SecretCodec) -> AccountState:
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

    def _set(self, **values: Any) -> None:
        """Assign fields as pydantic's ``__setattr__`` does on this model (no validation on assignment: the value
        stored, the field marked set), many in one step; a name that is not a field is refused."""
        if not values.keys() <= _FIELDS:
            raise AttributeError(f"AccountState has no field(s) {', '.join(sorted(values.keys() - _FIELDS))}")
        self.__dict__.update(values)
        self.__pydantic_fields_set__.update(values)

    # -- transitions (no I/O: the refresher saves, writes KV and arms) -----------------------------------
    def begin_attempt(self, now: float) -> float | None:
        """A refresh starts at ``now``: mark it in flight (a crash from here on is visible at restart).

        Returns the access token's expiry when it has passed and that was not alerted yet (it is marked
        alerted); otherwise None.
        """
        self._set(in_flight_since=now, last_attempt_at=now)
        if self.expires_at is None or now < self.expires_at or self.alerted_expired:
            return None
        self.alerted_expired = True
        return self.expires_at

    def apply_tokens(self, tokens: TokenSet, now: float, *, lead: float, margin: float) -> bool:
        """Take the provider's answer received at ``now``: the new tokens, a clean failure record, the next
        refresh (``lead`` seconds before expiry, at least ``margin`` early; none for a never-expiring token).

        A refresh token that differs from the stored one is a rotation: the old one is kept as
        ``previous_refresh_token`` (a provider's grace window). No refresh token in the answer keeps the stored
        one (RFC 6749 §6). Returns True when the refresh token rotated.
        """
        rotated = tokens.refresh_token is not None and (
            self.refresh_token is None
            or tokens.refresh_token.get_secret_value() != self.refresh_token.get_secret_value()
        )
        if rotated:
            self._set(previous_refresh_token=self.refresh_token, refresh_token=tokens.refresh_token, rotated_at=now)
        if tokens.refresh_token_expires_at is not None:
            if rotated or self.refresh_token_expires_at is None:
                self.alerted_refresh_token_expiry = False
            self.refresh_token_expires_at = tokens.refresh_token_expires_at
        if tokens.expires_at is None:
            status, next_refresh_at = Status.STATIC, None
        else:
            status, next_refresh_at = Status.ACTIVE, refresh_at(
                tokens.issued_at, tokens.expires_at, lead, margin=margin, hint=tokens.refresh_hint
            )
        self._set(
            access_token=tokens.access_token,
            token_type=tokens.token_type,
            scope=tokens.scope if tokens.scope is not None else self.scope,
            issued_at=tokens.issued_at,
            expires_at=tokens.expires_at,
            extras=dict(tokens.extras),
            generation=self.generation + 1,
            refresh_count=self.refresh_count + 1,
            failures=0,
            unexplained_failures=0,
            last_error=None,
            last_error_kind=None,
            last_success_at=now,
            in_flight_since=None,
            alerted_failures=False,
            alerted_expired=False,
            alerted_reauth=False,
            status=status,
            next_refresh_at=next_refresh_at,
        )
        return rotated

    def record_failure(
        self, exc: RefreshError, now: float, *, error: str, policy: RetryPolicy, rng: random.Random
    ) -> tuple[float, bool]:
        """A refresh failed with ``exc`` at ``now`` (when the failure was known; ``error``: its redacted text).

        :class:`~freshtoken.errors.Misconfigured` → ``misconfigured``, retried after the policy's slow delay and
        alerted at once; so is an :class:`~freshtoken.errors.UnexplainedClientError` (a 4xx without an error code)
        once more than ``policy.client_error_retries`` of them came in a row (alerted on entering
        ``misconfigured``, even after the repeated-failure alert); anything else → ``retrying``, backed off
        with jitter (``Retry-After`` honoured) and alerted at the policy's threshold. Returns the retry time
        (also ``next_refresh_at``) and whether this failure raises the alert (once per run of failures).
        """
        self.failures += 1
        self.in_flight_since = None
        self.last_error = error
        self.last_error_kind = exc.kind
        self.unexplained_failures = self.unexplained_failures + 1 if isinstance(exc, UnexplainedClientError) else 0
        escalated = self.unexplained_failures > policy.client_error_retries
        if isinstance(exc, Misconfigured) or escalated:
            alert = not self.alerted_failures or (escalated and self.status is not Status.MISCONFIGURED)
            self.status = Status.MISCONFIGURED
            retry_at = now + policy.misconfigured_delay
        else:
            self.status = Status.RETRYING
            alert = self.failures >= policy.alert_after and not self.alerted_failures
            retry_after = exc.retry_after if isinstance(exc, RetryableError) else None
            retry_at = now + policy.delay(self.failures, retry_after=retry_after, rng=rng)
        if alert:
            self.alerted_failures = True
        self.next_refresh_at = retry_at
        return retry_at, alert

    def mark_reauth(self, exc: RefreshError, *, error: str) -> bool:
        """The provider refused the grant (``exc``; ``error``: its redacted text): stop refreshing until the
        account is registered again. Returns True the first time (the one alert)."""
        self.status = Status.REAUTH_REQUIRED
        self.failures += 1
        self.in_flight_since = None
        self.next_refresh_at = None
        self.last_error = error
        self.last_error_kind = exc.kind
        first = not self.alerted_reauth
        self.alerted_reauth = True
        return first


#: The fields of :class:`AccountState` (what :meth:`AccountState._set` may assign).
_FIELDS = frozenset(AccountState.model_fields)
