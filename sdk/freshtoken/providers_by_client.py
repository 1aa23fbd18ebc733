"""Each configured OAuth client's provider: options applied, issuer discovery run once, cached.

Shared by the runtimes that host many clients (embedded, Temporal workers).
"""

from __future__ import annotations

import asyncio

from .client import OAuthClient
from .errors import ConfigError
from .plugins import Plugins
from .provider import Provider


class ClientProviders:
    """``await providers.get(client)``: the client's provider, built once per client name."""

    def __init__(self, plugins: Plugins) -> None:
        self.plugins = plugins
        self._providers: dict[str, Provider] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def static(self, client: OAuthClient) -> Provider:
        """The provider of ``client`` with its options (no discovery); unknown providers and bad options are
        a :class:`ConfigError` naming the client."""
        try:
            return self.plugins.provider(client.provider, client.provider_options)
        except ConfigError as exc:
            raise ConfigError(f"client {client.name!r}: {exc}") from None

    async def get(self, client: OAuthClient) -> Provider:
        cached = self._providers.get(client.name)
        if cached is not None:
            return cached
        async with self._locks.setdefault(client.name, asyncio.Lock()):
            cached = self._providers.get(client.name)
            if cached is not None:
                return cached
            provider = self.static(client)
            if provider.issuer and not provider.token_url:
                import httpx

                from .discovery import with_discovered_endpoints

                async with httpx.AsyncClient(trust_env=False, follow_redirects=False) as hc:
                    provider = await with_discovered_endpoints(provider, provider.issuer, hc)
            self._providers[client.name] = provider
            return provider
