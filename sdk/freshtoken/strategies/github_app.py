"""``github_app_installation``: a GitHub App's installation access token.

The app signs a JWT with its private key (RS256; ``iat`` 60 s in the past against clock drift, ``exp`` at
most 10 minutes ahead, ``iss`` the app's client ID or app ID) and sends it as ``Authorization: Bearer`` to
``POST {api}/app/installations/{installation_id}/access_tokens``. The answer (HTTP 201) carries ``token``
and an ISO-8601 ``expires_at`` (one hour), and no refresh token. The installation id is the account's
(account data ``installation_id``); the key is the client's ``private_key``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from ..client import OAuthClient
from ..errors import (
    MalformedResponse,
    Misconfigured,
    RefreshError,
    RetryableError,
)
from ..http import TokenRequest, TokenResponse
from ..provider import MAX_LIFETIME, RETRYABLE_STATUS, parse_retry_after
from ..tokens import TokenSet
from .assertion import sign, signing_key
from .base import NO_CLIENT_AUTH, Exchange, MachineStrategy

INSTALLATION_ID = re.compile(r"[1-9][0-9]{0,19}")
API_VERSION = "2022-11-28"


class GitHubAppOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    api_url: str = Field(default="https://api.github.com", description="The REST API root (GHES: https://HOST/api/v3).")
    issuer: str | None = Field(default=None, description="iss: the app's client ID or app ID (default: client_id).")
    lifetime: float = Field(default=540.0, gt=0, le=600, description="exp - now, seconds (GitHub: at most 600).")
    repositories: list[str] = Field(default_factory=list, description="Limit the token to these repositories.")
    permissions: dict[str, str] = Field(default_factory=dict, description="Limit the token's permissions.")


class GitHubAppInstallation(MachineStrategy):
    name = "github_app_installation"
    options_model = GitHubAppOptions
    account_fields = {"installation_id": "the app installation's numeric id"}

    def check(self, provider: Any, client: OAuthClient, account_data: Mapping[str, str]) -> None:
        super().check(provider, client, account_data)
        if not INSTALLATION_ID.fullmatch(account_data["installation_id"]):
            raise Misconfigured("strategy 'github_app_installation': installation_id must be a positive integer")
        signing_key(client)

    def build_request(self, exchange: Exchange) -> TokenRequest:
        client = exchange.client
        options: GitHubAppOptions = self.options(exchange.provider, client, exchange.account_data)
        installation = exchange.account_data.get("installation_id", "")
        if not INSTALLATION_ID.fullmatch(installation):
            raise Misconfigured("github_app_installation: account data installation_id must be a positive integer")
        now = int(exchange.now)
        claims = {"iat": now - 60, "exp": now + int(options.lifetime), "iss": options.issuer or client.client_id}
        app_jwt = sign(claims, signing_key(client), alg="RS256")
        body: dict[str, Any] = {}
        if options.repositories:
            body["repositories"] = options.repositories
        if options.permissions:
            body["permissions"] = options.permissions
        return TokenRequest(
            url=f"{options.api_url.rstrip('/')}/app/installations/{installation}/access_tokens",
            params=body,
            headers={
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "Authorization": f"Bearer {app_jwt}",
            },
            body_format="json",
            auth_method=NO_CLIENT_AUTH,  # the app JWT is the credential
        )

    def parse_response(self, exchange: Exchange, response: TokenResponse, now: float) -> TokenSet:
        payload: Any = None
        if not response.truncated and response.body:
            try:
                payload = json.loads(response.body)
            except (ValueError, UnicodeDecodeError, RecursionError):
                payload = None
        if response.status not in (200, 201) or not isinstance(payload, dict):
            raise self._error(response, payload if isinstance(payload, dict) else None, now)
        token = payload.get("token")
        if not isinstance(token, str) or not token:
            raise MalformedResponse("github: the installation token response has no token")
        return TokenSet(
            access_token=SecretStr(token),
            token_type="Bearer",  # noqa: S106 (a scheme name; GitHub takes Bearer for installation tokens)
            issued_at=now,
            expires_at=self._expiry(payload.get("expires_at"), now),
            extras={k: payload[k] for k in ("repository_selection",) if isinstance(payload.get(k), str)},
        )

    @staticmethod
    def _expiry(value: Any, now: float) -> float:
        if not isinstance(value, str):
            raise MalformedResponse("github: the installation token response has no expires_at")
        try:
            at = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise MalformedResponse("github: expires_at is not an ISO-8601 time") from None
        if at.tzinfo is None:
            raise MalformedResponse("github: expires_at has no time zone")
        when = at.timestamp()
        if when <= now or when - now > MAX_LIFETIME:
            raise MalformedResponse("github: expires_at is in the past or implausibly far")
        return when

    @staticmethod
    def _error(response: TokenResponse, payload: Mapping[str, Any] | None, now: float) -> RefreshError:
        status = response.status
        message = payload.get("message") if payload else None
        kw: dict[str, Any] = {"description": message if isinstance(message, str) else None, "status": status}
        retry_after = parse_retry_after(response.headers.get("retry-after"), now)
        limited = status == 403 and response.headers.get("x-ratelimit-remaining") == "0"
        if status in RETRYABLE_STATUS or status >= 500 or limited:
            return RetryableError(f"github: API unavailable (HTTP {status})", retry_after=retry_after, **kw)
        if status in (401, 403, 404, 422):  # a bad app JWT, an uninstalled app, a suspended installation
            return Misconfigured(f"github: the app was refused (HTTP {status})", **kw)
        return MalformedResponse(f"github: unexpected HTTP {status} from the installation token endpoint", **kw)
