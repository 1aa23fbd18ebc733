"""Notion public connections: Basic auth, JSON body. Notion's documented token and refresh responses carry
**no** ``expires_in`` (developers.notion.com/reference/refresh-a-token): the access token does not expire,
and each refresh burns the single-use refresh token for a new one. So a token without ``expires_in`` is
never refreshed on a schedule (``default_lifetime = None``: no rotation for nothing, no chance to lose the
grant); the refresh token is kept for a refresh on demand. Should Notion send ``expires_in``, it is honoured.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from freshtoken import Provider, ProviderRegistrar, hookimpl


class NotionProvider(Provider):
    name = "notion"
    #: OAuth's ``error``, else Notion's API error shape ``{"object": "error", "code": ...}``.
    error_code_fields: ClassVar[tuple[str, ...]] = ("error", "code")

    token_url: str = "https://api.notion.com/v1/oauth/token"
    # Connecting: Notion's authorization URL carries owner=user; pages are chosen by the user, not by scope.
    authorize_url: str = "https://api.notion.com/v1/oauth/authorize"
    authorize_params: dict[str, str] = {"owner": "user"}
    body_format: Literal["form", "json"] = "json"
    extra_fields: tuple[str, ...] = ("workspace_id", "bot_id")
    default_lifetime: float | None = None  # documented: no expires_in, the token does not expire


@hookimpl
def freshtoken_register_providers(register: ProviderRegistrar) -> None:
    register(NotionProvider)
