"""Zoom (user-level OAuth apps): 1-hour tokens, refresh tokens rotated on every use (only the latest one
works). Zoom's errors carry ``reason`` rather than ``error_description``, and a spent or revoked
refresh token is ``invalid_request`` with reason "Invalid Token!", which is a dead grant, not a bad client.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from freshtoken import Provider, ProviderRegistrar, hookimpl


class ZoomProvider(Provider):
    name = "zoom"
    error_description_fields: ClassVar[tuple[str, ...]] = ("error_description", "message", "reason")

    token_url: str = "https://zoom.us/oauth/token"
    # Connecting: Zoom's authorize page (user-level apps); scopes come from the app's configuration; PKCE.
    authorize_url: str = "https://zoom.us/oauth/authorize"
    revocation_url: str | None = "https://zoom.us/oauth/revoke"
    extra_fields: tuple[str, ...] = ("api_url",)  # the account's regional API base

    def error_code(self, payload: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
        code, desc = super().error_code(payload)
        if code == "invalid_request" and desc and "token" in desc.lower() and "invalid" in desc.lower():
            code = "invalid_grant"
        return code, desc


@hookimpl
def freshtoken_register_providers(register: ProviderRegistrar) -> None:
    register(ZoomProvider)
