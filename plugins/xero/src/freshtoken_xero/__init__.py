"""Xero: 30-minute tokens, rotating refresh tokens; the previous refresh token may be retried for 30
minutes (``rotation_grace``), so a lost refresh response does not lose the grant."""

from __future__ import annotations

from collections.abc import Callable

from freshtoken import Provider, hookimpl


class XeroProvider(Provider):
    name = "xero"

    token_url: str = "https://identity.xero.com/connect/token"
    # Connecting: Xero's identity server; offline_access is the scope that brings a refresh token.
    authorize_url: str = "https://login.xero.com/identity/connect/authorize"
    offline_scopes: tuple[str, ...] = ("offline_access",)
    revocation_url: str | None = "https://identity.xero.com/connect/revocation"
    default_lifetime: float | None = 1800.0
    rotation_grace: float | None = 1800.0


@hookimpl
def freshtoken_register_providers(register: Callable[[type[Provider]], None]) -> None:
    register(XeroProvider)
