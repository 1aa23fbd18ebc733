"""OAuth client credentials: who the SDK is when it talks to a token endpoint."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

AuthMethod = Literal["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"]


class OAuthClient(BaseModel):
    """A registered OAuth client. ``provider_options`` tune the provider (e.g. a generic token URL).

    ``auth_method`` None means the provider's default. ``private_key`` (PEM or JWK JSON) is used by
    ``private_key_jwt``; ``jwt_headers`` adds JWT header fields (e.g. ``kid``, Microsoft's ``x5t``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    provider: str = Field(min_length=1)
    client_id: str = Field(min_length=1)
    client_secret: SecretStr | None = None
    auth_method: AuthMethod | None = None
    private_key: SecretStr | None = None
    jwt_alg: str | None = None
    jwt_headers: dict[str, str] = Field(default_factory=dict)
    provider_options: dict[str, Any] = Field(default_factory=dict)
    #: Accept account keys whose provider part names neither :attr:`provider` nor :attr:`name`.
    provider_mismatch_ok: bool = False

    def secret_values(self) -> list[str]:
        """Every secret this client holds, for redaction."""
        out = []
        for s in (self.client_secret, self.private_key):
            if s is not None:
                out.append(s.get_secret_value())
        return out
