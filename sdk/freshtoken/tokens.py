"""The token set a provider returns from a refresh, parsed and normalised."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class TokenSet(BaseModel):
    """A parsed token response. Times are absolute, in epoch seconds; secrets are ``SecretStr``.

    ``expires_at`` is None only when the provider says the token never expires. ``refresh_token`` is None
    when the response carried none: the refresher then keeps the one it had (RFC 6749 §6).
    ``extras`` holds non-secret provider fields the request path may need (e.g. Salesforce
    ``instance_url``); it is copied to the KV record.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    access_token: SecretStr
    token_type: str = "Bearer"
    issued_at: float
    expires_at: float | None
    refresh_token: SecretStr | None = None
    refresh_token_expires_at: float | None = None
    scope: str | None = None
    id_token: SecretStr | None = None
    extras: dict[str, Any] = Field(default_factory=dict)
    #: The provider's own advice on when to refresh (e.g. Microsoft's ``refresh_in``), epoch seconds.
    refresh_hint: float | None = None

    def __repr__(self) -> str:  # pydantic's repr already masks SecretStr; keep it short too
        return f"TokenSet(token_type={self.token_type!r}, expires_at={self.expires_at!r})"
