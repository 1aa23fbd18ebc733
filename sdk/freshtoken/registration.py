"""The registration of an account: the ONE definition of its fields.

Every entry point builds a :class:`Registration` (the CLI's ``accounts add``, the admin API's ``POST /accounts``,
``EmbeddedRuntime.register``, ``TemporalAccounts.register``, the Durable Object's register route) and passes it
unchanged through its runtime to :meth:`freshtoken.refresher.Refresher.register`. Where it crosses a process
boundary it travels as :meth:`Registration.to_payload` (JSON, secrets in clear: only ever inside an encrypted
Temporal payload) and comes back with :meth:`Registration.from_payload`.

The account key is not part of it (it names the account; the registration is what is stored under it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from freshtoken_reader.record import header_safe

from .errors import ConfigError

#: The secret fields (masked in ``repr`` and ``model_dump``; in clear only in :meth:`Registration.to_payload`).
SECRET_REGISTRATION_FIELDS = ("refresh_token", "access_token")


class InvalidRegistration(ConfigError, ValueError):
    """A registration that does not validate; ``problems`` names each field (never its value)."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        self.problems = problems
        super().__init__("invalid registration: " + "; ".join(f"{p['field']}: {p['message']}" for p in problems))


def validation_problems(exc: ValidationError) -> list[dict[str, str]]:
    """``[{"field", "message"}]`` of a pydantic validation error, without the input values (they may be secrets)."""
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "message": e["msg"]}
        for e in exc.errors(include_input=False, include_url=False)
    ]


class Registration(BaseModel):
    """What registering an account stores: the OAuth client, the grant, optionally a current access token.

    ``expires_in`` is an alternative to ``expires_at``, counted from when the refresher runs the registration.
    ``replace`` is needed to overwrite an account that exists and is not ``reauth_required``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    client: str = Field(min_length=1, description="Name of the configured OAuth client.")
    refresh_token: SecretStr | None = None
    strategy: str = Field(
        default="refresh_token", pattern=r"^[a-z][a-z0-9_]{0,63}$",
        description="How the next token is obtained (freshtoken.strategies): refresh_token (a user grant), or a "
        "machine strategy (client_credentials, jwt_bearer, github_app_installation) that needs no refresh token.",
    )
    account_data: dict[str, str] = Field(default_factory=dict)
    access_token: SecretStr | None = None
    expires_at: float | None = Field(default=None, description="When the access token expires (epoch seconds).")
    expires_in: float | None = Field(default=None, description="Seconds the access token still lives.")
    token_type: str = Field(default="Bearer", min_length=1)
    scope: str | None = None
    refresh_token_expires_at: float | None = Field(
        default=None, description="When the refresh token itself lapses (epoch seconds), if the provider says."
    )
    never_expires: bool = Field(default=False, description="The access token is static: no refresh, no alarm.")
    replace: bool = Field(default=False, description="Overwrite a live account (else AccountExists).")

    @field_validator("access_token")
    @classmethod
    def _sendable_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not header_safe(value.get_secret_value()):
            raise ValueError("an access token must be printable ASCII (RFC 6749 appendix A.12): it goes into an "
                             "HTTP header")
        return value

    @field_validator("token_type")
    @classmethod
    def _sendable_type(cls, value: str) -> str:
        if not header_safe(value):
            raise ValueError("a token type must be printable ASCII: it goes into an HTTP header")
        return value

    @model_validator(mode="after")
    def _one_expiry(self) -> Registration:
        if self.expires_at is not None and self.expires_in is not None:
            raise ValueError("give expires_at or expires_in, not both")
        return self

    # -- derived values -------------------------------------------------------------------------------------
    def expiry(self, now: float) -> float | None:
        """The access token's expiry: ``expires_at``, else ``now + expires_in``, else None."""
        if self.expires_at is not None:
            return self.expires_at
        return None if self.expires_in is None else now + self.expires_in

    def secret(self, name: str) -> str | None:
        """A secret field's value in clear (``refresh_token`` / ``access_token``), or None."""
        if name not in SECRET_REGISTRATION_FIELDS:
            raise KeyError(f"{name!r} is not a secret field of a registration")
        value: SecretStr | None = getattr(self, name)
        return None if value is None else value.get_secret_value()

    def secret_values(self) -> list[str]:
        """The secrets it carries (to redact from any message)."""
        return [v for v in (self.secret(n) for n in SECRET_REGISTRATION_FIELDS) if v]

    # -- one serialisation ----------------------------------------------------------------------------------
    def to_payload(self) -> dict[str, Any]:
        """JSON-ready, every field, the secrets in clear: for a payload that is itself encrypted (Temporal)."""
        data = self.model_dump(mode="json")
        for name in SECRET_REGISTRATION_FIELDS:
            data[name] = self.secret(name)
        return data

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> Registration:
        """The inverse of :meth:`to_payload`, and how an entry point reads a registration from JSON: validated,
        unknown fields refused, :class:`InvalidRegistration` naming the fields that are wrong."""
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            raise InvalidRegistration(validation_problems(exc)) from None

    @classmethod
    def field_names(cls) -> frozenset[str]:
        return frozenset(cls.model_fields)


def registration_of(registration: Registration | None, fields: Mapping[str, Any]) -> Registration:
    """A :class:`Registration` given either whole or as keyword fields (the public entry points' convenience)."""
    if registration is not None:
        if fields:
            raise TypeError(f"give a Registration or keyword fields, not both (got {sorted(fields)})")
        return registration
    return Registration.from_payload(fields)
