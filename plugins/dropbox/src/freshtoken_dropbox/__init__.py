"""Dropbox: 4-hour access tokens (``expires_in`` 14400); the refresh token does not rotate."""

from __future__ import annotations

from collections.abc import Callable

from freshtoken import Provider, hookimpl


class DropboxProvider(Provider):
    name = "dropbox"

    token_url: str = "https://api.dropboxapi.com/oauth2/token"
    # Connecting: token_access_type=offline is what makes Dropbox return a refresh token with the code.
    authorize_url: str = "https://www.dropbox.com/oauth2/authorize"
    authorize_params: dict[str, str] = {"token_access_type": "offline"}
    default_lifetime: float | None = 14400.0


@hookimpl
def freshtoken_register_providers(register: Callable[[type[Provider]], None]) -> None:
    register(DropboxProvider)
