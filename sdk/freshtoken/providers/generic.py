"""The generic declarative provider: any RFC 6749 token endpoint, configured without code.

It is registered through the ``freshtoken`` entry point exactly as an external plugin is. Configure it
per OAuth client::

    [clients.acme]
    provider = "generic"
    client_id = "..."
    client_secret = { env = "ACME_SECRET" }
    [clients.acme.provider_options]
    token_url = "https://auth.acme.example/oauth/token"   # or: issuer = "https://auth.acme.example"
    auth_method = "client_secret_post"
    body_format = "form"
    refresh_params = { audience = "api" }
    expires_in_field = "expires_in"

Connecting accounts (``freshtoken connect``) needs the authorization side: ``authorize_url`` from the same
options, or, with ``issuer``, the metadata's ``authorization_endpoint`` (held to the same origin rule as the
token endpoint, :mod:`freshtoken.host.discovery`)::

    authorize_url = "https://auth.acme.example/oauth/authorize"   # omit with issuer: discovered
    default_scopes = ["orders:read"]           # when the operator names none
    offline_scopes = ["offline_access"]        # always added: what makes the server issue a refresh token
    authorize_params = { prompt = "consent" }  # response_type, client_id, redirect_uri, state, PKCE: refused
    code_params = { audience = "api" }         # extra code-exchange parameters
    pkce = true                                # S256; the default

Machine accounts (``strategy`` ``client_credentials`` or ``jwt_bearer``, :mod:`freshtoken.strategies`) take
their options from ``strategy_options``; the credential is the client's ``client_secret`` or ``private_key``::

    [clients.acme.provider_options.strategy_options.client_credentials]
    scope = "orders:read"
    params = { audience = "https://api.acme.example" }
    [clients.acme.provider_options.strategy_options.jwt_bearer]
    issuer = "svc@acme.example"        # default: client_id; aud defaults to the (discovered) token endpoint
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from ..hookspecs import hookimpl
from ..provider import Provider


class GenericProvider(Provider):
    """RFC 6749 refresh with every behaviour set from configuration."""

    name = "generic"
    strategies: ClassVar[tuple[str, ...]] = ("refresh_token", "client_credentials", "jwt_bearer")


@hookimpl
def freshtoken_register_providers(register: Callable[[type[Provider]], None]) -> None:
    register(GenericProvider)
