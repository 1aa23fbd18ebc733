"""The generic provider's authorization side against real authorization servers, through discovery.

The client names only the issuer. :class:`~freshtoken.host.providers.ClientProviders` discovers the token and
authorization endpoints from the server's own metadata (oidc-provider: OIDC discovery; django-oauth-toolkit:
its ``.well-known`` document); the authorize request the provider builds is driven through the server's real
login and consent forms; the code goes back through :meth:`Provider.build_code_request` and the real
:class:`~freshtoken.http.TokenHTTP` (endpoint policy, client authentication); the tokens are parsed by the
provider, and the refresh token they carry refreshes at the same server.
"""

from __future__ import annotations

import asyncio
import secrets
from urllib.parse import parse_qsl, urlsplit

from pydantic import SecretStr

from freshtoken import Plugins, TokenHTTP, TokenSet
from freshtoken.host.providers import ClientProviders

from .sdk_host import sdk_client
from .servers import AuthServer, _code_from, _user_seq, pkce_pair


async def test_discovered_authorize_url_connects_and_refreshes(auth_server: AuthServer) -> None:
    client = sdk_client(auth_server, "basic", discover=True)
    provider = await ClientProviders(Plugins()).get(client)
    assert provider.authorize_url == auth_server.authorization_endpoint
    assert provider.token_url == auth_server.token_endpoint

    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(12)
    url = provider.build_authorize_url(client, {}, redirect_uri=auth_server.redirect_uri, state=state,
                                       code_challenge=challenge, scopes=(auth_server.default_scope,))
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == auth_server.authorization_endpoint
    params = dict(parse_qsl(parts.query))

    def authorize() -> str:
        with auth_server.http() as http:
            return auth_server._authorize(http, params, f"user{next(_user_seq)}")

    location = await asyncio.to_thread(authorize)  # the server's own login and consent forms
    code = _code_from(location, state)

    http = TokenHTTP()
    try:
        request = provider.build_code_request(SecretStr(code), client, {}, redirect_uri=auth_server.redirect_uri,
                                              code_verifier=verifier)
        tokens = provider.parse_response(await http.send(request, client, timeout=provider.timeout), 0.0)
        assert isinstance(tokens, TokenSet) and tokens.refresh_token is not None

        refresh = provider.build_refresh_request(tokens.refresh_token, client, {})
        refreshed = provider.parse_response(await http.send(refresh, client, timeout=provider.timeout), 0.0)
        assert refreshed.access_token.get_secret_value() != tokens.access_token.get_secret_value()

        # the code is single use (RFC 6749 §4.1.2); the server may revoke the grant for the replay, so last
        again = provider.build_code_request(SecretStr(code), client, {}, redirect_uri=auth_server.redirect_uri,
                                            code_verifier=verifier)
        assert (await http.send(again, client, timeout=provider.timeout)).status == 400
    finally:
        await http.aclose()


async def test_a_wrong_verifier_is_refused_by_the_server(auth_server: AuthServer) -> None:
    """The challenge the provider sent is the one the server checks: another verifier gets no token."""
    client = sdk_client(auth_server, "basic", discover=True)
    provider = await ClientProviders(Plugins()).get(client)
    _, challenge = pkce_pair()
    state = secrets.token_urlsafe(12)
    url = provider.build_authorize_url(client, {}, redirect_uri=auth_server.redirect_uri, state=state,
                                       code_challenge=challenge, scopes=(auth_server.default_scope,))
    params = dict(parse_qsl(urlsplit(url).query))

    def authorize() -> str:
        with auth_server.http() as http:
            return auth_server._authorize(http, params, f"user{next(_user_seq)}")

    code = _code_from(await asyncio.to_thread(authorize), state)
    other_verifier, _ = pkce_pair()
    http = TokenHTTP()
    try:
        request = provider.build_code_request(SecretStr(code), client, {}, redirect_uri=auth_server.redirect_uri,
                                              code_verifier=other_verifier)
        response = await http.send(request, client, timeout=provider.timeout)
    finally:
        await http.aclose()
    assert response.status == 400 and b"invalid_grant" in response.body
