"""Each configured OAuth client's provider: options applied, issuer discovery run once, cached.

Shared by the runtimes that host many clients (embedded, Temporal workers).
"""

from __future__ import annotations

import asyncio

from ..client import OAuthClient
from ..egress.endpoint_policy import DEFAULT_POLICY, EndpointPolicy
from ..errors import ConfigError
from ..plugins import Plugins
from ..provider import Provider


class ClientProviders:
    """``await providers.get(client)``: the client's provider, built once per client name."""

    def __init__(self, plugins: Plugins, *, policy: EndpointPolicy = DEFAULT_POLICY) -> None:
        self.plugins = plugins
        #: The deployment's endpoint policy: applied to each client's endpoints, the issuer and what it
        #: advertises, before any secret is sent.
        self.policy = policy
        self._providers: dict[str, Provider] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def static(self, client: OAuthClient) -> Provider:
        """The provider of ``client`` with its options (no discovery); unknown providers and bad options are
        a :class:`ConfigError` naming the client, endpoints the policy refuses an :class:`UnsafeEndpoint`."""
        try:
            provider = self.plugins.provider(client.provider, client.provider_options)
            for field in ("token_url", "revocation_url", "issuer", "authorize_url"):
                value = getattr(provider, field)
                if value:
                    self.policy.check_template(value, what=field)
            return provider
        except ConfigError as exc:
            raise type(exc)(f"client {client.name!r}: {exc}") from None

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

                from ..egress.guarded_transport import GuardedTransport
                from .discovery import with_discovered_endpoints

                transport = GuardedTransport(self.policy)
                async with httpx.AsyncClient(transport=transport, trust_env=False, follow_redirects=False) as hc:
                    try:
                        provider = await with_discovered_endpoints(provider, provider.issuer, hc, policy=self.policy)
                    except ConfigError as exc:
                        raise type(exc)(f"client {client.name!r}: {exc}") from None
            self._providers[client.name] = provider
            return provider
