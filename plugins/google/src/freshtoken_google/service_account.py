"""Google service accounts: the ``jwt_bearer`` strategy's options from the service account's JSON key.

The client's ``private_key`` secret holds the whole JSON key (``type`` ``service_account``, ``client_email``,
``private_key``, ``private_key_id``, ``token_uri``). The assertion is Google's (developers.google.com/identity/
protocols/oauth2/service-account): ``iss`` the service account's email, ``scope`` a claim (space-separated),
``aud`` the key's ``token_uri``, ``exp`` at most an hour after ``iat``, ``kid`` the key id; ``sub`` only for
domain-wide delegation (the user's email, account data ``subject``). The answer has no refresh token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from freshtoken import OAuthClient
from freshtoken.errors import Misconfigured
from freshtoken.strategies.assertion import key_file

DEFAULT_AUDIENCE = "https://oauth2.googleapis.com/token"


def service_account_options(client: OAuthClient, configured: Mapping[str, Any]) -> dict[str, Any]:
    """The jwt_bearer options of a service account's key (what the configuration sets wins)."""
    data = key_file(client)
    if data is None or data.get("type") != "service_account" or not isinstance(data.get("client_email"), str):
        raise Misconfigured(
            f"client {client.name!r}: Google's jwt_bearer needs the service account's JSON key (type "
            "service_account, with client_email and private_key) as the client's private_key"
        )
    token_uri = data.get("token_uri")
    options: dict[str, Any] = {
        "issuer": data["client_email"],
        "audience": token_uri if isinstance(token_uri, str) and token_uri else DEFAULT_AUDIENCE,
        "scope_in": "claim",
        "subject_default": "none",
        "lifetime": 3600,
    }
    options.update(configured)
    return options


class ServiceAccountOptions:
    """Mixed into the Google provider: ``options_for("jwt_bearer", ...)`` reads the service-account key."""

    def options_for(self, strategy: str, client: OAuthClient, account_data: Mapping[str, str]) -> dict[str, Any]:
        configured = super().options_for(strategy, client, account_data)  # type: ignore[misc]
        return service_account_options(client, configured) if strategy == "jwt_bearer" else dict(configured)
