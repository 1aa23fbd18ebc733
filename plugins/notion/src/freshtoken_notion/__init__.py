"""Notion public connections: Basic auth, JSON body. Expiry is optional: tokens issued without a refresh
token never expire (the historical behaviour); newer connections get a refresh token, rotated on every
use, and are refreshed on ``expires_in`` or, when Notion sends none, hourly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

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

    def parse_expiry(self, payload: Mapping[str, Any], now: float) -> float | None:
        if payload.get(self.expires_in_field) is None and not payload.get("refresh_token"):
            return None  # no expiry and nothing to refresh with: a token that does not expire
        return super().parse_expiry(payload, now)


@hookimpl
def freshtoken_register_providers(register: ProviderRegistrar) -> None:
    register(NotionProvider)
