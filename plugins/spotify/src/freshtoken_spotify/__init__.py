"""Spotify: 1-hour tokens; a new refresh token only sometimes (the old one is kept when absent)."""

from __future__ import annotations

from collections.abc import Callable

from freshtoken import Provider, hookimpl


class SpotifyProvider(Provider):
    name = "spotify"

    token_url: str = "https://accounts.spotify.com/api/token"
    # Connecting: Spotify's /authorize; scopes are space-separated; PKCE is supported.
    authorize_url: str = "https://accounts.spotify.com/authorize"


@hookimpl
def freshtoken_register_providers(register: Callable[[type[Provider]], None]) -> None:
    register(SpotifyProvider)
