"""Atlassian (Jira, Confluence cloud): JSON token requests, 1-hour tokens, rotating refresh tokens (90 days
inactivity, 365 days absolute; needs the ``offline_access`` scope). A spent refresh token may be reused
within a 10-minute leeway (``rotation_grace``); beyond it the whole grant is revoked. A dead grant is
often **HTTP 403** ``invalid_grant`` ("Unknown or invalid refresh token"): that is re-auth, not a bad client.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from freshtoken import Provider, hookimpl
from freshtoken.client import AuthMethod


class AtlassianProvider(Provider):
    name = "atlassian"

    token_url: str = "https://auth.atlassian.com/oauth/token"
    # Connecting: Atlassian's authorization URL carries audience=api.atlassian.com and prompt=consent;
    # offline_access is the scope that brings a (rotating) refresh token.
    authorize_url: str = "https://auth.atlassian.com/authorize"
    offline_scopes: tuple[str, ...] = ("offline_access",)
    authorize_params: dict[str, str] = {"audience": "api.atlassian.com", "prompt": "consent"}
    auth_method: AuthMethod = "client_secret_post"
    body_format: Literal["form", "json"] = "json"
    rotation_grace: float | None = 600.0


@hookimpl
def freshtoken_register_providers(register: Callable[[type[Provider]], None]) -> None:
    register(AtlassianProvider)
