"""Dropbox: 4-hour access tokens (``expires_in`` 14400); the refresh token does not rotate."""

from __future__ import annotations

from collections.abc import Callable

from freshtoken import Provider, hookimpl


class DropboxProvider(Provider):
    name = "dropbox"

    token_url: str = "https://api.dropboxapi.com/oauth2/token"
    default_lifetime: float | None = 14400.0


@hookimpl
def freshtoken_register_providers(register: Callable[[type[Provider]], None]) -> None:
    register(DropboxProvider)
