"""The authorization side of the generic provider: ``authorize_url`` from configuration, or from the issuer's
``authorization_endpoint`` (RFC 8414 / OIDC metadata), held to the same origin rule as ``token_endpoint`` — a
tampered document must not send a person's browser to another site's login page.

The issuer is the real HTTP discovery server of :mod:`tests.core.test_discovery_policy`, read through the
real :class:`~freshtoken.host.providers.ClientProviders` path a runtime uses.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr

from freshtoken import OAuthClient, Plugins
from freshtoken.errors import ConfigError, Misconfigured, UnsafeEndpoint
from freshtoken.host.providers import ClientProviders
from tests.core.test_discovery_policy import Issuer, _client, issuer_serving

REDIRECT = "http://127.0.0.1:8765/callback"


def _authorize_url(provider: Any, client: OAuthClient) -> str:
    url: str = provider.build_authorize_url(client, {}, redirect_uri=REDIRECT, state="st-1", code_challenge="ch-1")
    return url


async def test_the_discovered_authorization_endpoint_becomes_authorize_url() -> None:
    def doc(s: Issuer) -> dict[str, Any]:
        return {"issuer": s.url, "token_endpoint": f"{s.url}/token", "authorization_endpoint": f"{s.url}/authorize"}

    with issuer_serving(doc) as server:
        client = _client(server.url)
        provider = await ClientProviders(Plugins()).get(client)
    assert provider.authorize_url == f"{server.url}/authorize"
    url = urlsplit(_authorize_url(provider, client))
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{server.url}/authorize"
    query = parse_qs(url.query)
    assert query["response_type"] == ["code"] and query["client_id"] == ["cid"]
    assert query["redirect_uri"] == [REDIRECT] and query["state"] == ["st-1"]
    assert query["code_challenge"] == ["ch-1"] and query["code_challenge_method"] == ["S256"]


async def test_an_authorization_endpoint_on_another_origin_is_refused() -> None:
    def doc(s: Issuer) -> dict[str, Any]:
        return {"issuer": s.url, "token_endpoint": f"{s.url}/token",
                "authorization_endpoint": "https://login.evil.example/authorize"}

    with issuer_serving(doc) as server:
        with pytest.raises(UnsafeEndpoint, match=r"discovered authorization_endpoint https://login\.evil\.example "
                                                 r"is not on the issuer's origin") as info:
            await ClientProviders(Plugins()).get(_client(server.url))
    assert "disc" in str(info.value) and "discovery_allowed_hosts" in str(info.value)


async def test_an_allowlisted_authorization_host_is_accepted() -> None:
    def doc(s: Issuer) -> dict[str, Any]:
        return {"issuer": s.url, "token_endpoint": f"{s.url}/token",
                "authorization_endpoint": "https://accounts.example.com/o/auth?hd=acme"}

    with issuer_serving(doc) as server:
        client = _client(server.url, discovery_allowed_hosts=["accounts.example.com"])
        provider = await ClientProviders(Plugins()).get(client)
    assert provider.authorize_url == "https://accounts.example.com/o/auth?hd=acme"
    url = urlsplit(_authorize_url(provider, client))
    assert parse_qs(url.query)["hd"] == ["acme"], "the endpoint's own query must be kept (RFC 6749 §3.1)"


@pytest.mark.parametrize("endpoint", [
    "http://auth.example.com/authorize",           # plain http off loopback
    "https://169.254.169.254/authorize",           # metadata
    "https://user:pw@auth.example.com/authorize",  # userinfo
    "https://{tenant}.example.com/authorize",      # a template: the document may not make account data the host
    "https://auth.example.com/authorize#frag",     # RFC 6749 §3.1: no fragment
    "https://auth.example.com/authorize?redirect_uri=https%3A%2F%2Fevil.example%2Fcb",  # a preset request parameter
    "https://auth.example.com/authorize?client_id=other&x=1",
    "javascript:alert(1)",
    42,
])
async def test_an_unsafe_discovered_authorization_endpoint_is_refused_even_when_allowlisted(endpoint: Any) -> None:
    def doc(s: Issuer) -> dict[str, Any]:
        return {"issuer": s.url, "token_endpoint": f"{s.url}/token", "authorization_endpoint": endpoint}

    with issuer_serving(doc) as server:
        client = _client(server.url, discovery_allowed_hosts=["auth.example.com", "169.254.169.254"])
        with pytest.raises(UnsafeEndpoint, match="authorization_endpoint"):
            await ClientProviders(Plugins()).get(client)


async def test_a_configured_authorize_url_wins_over_the_document() -> None:
    def doc(s: Issuer) -> dict[str, Any]:
        return {"issuer": s.url, "token_endpoint": f"{s.url}/token", "authorization_endpoint": f"{s.url}/authorize"}

    with issuer_serving(doc) as server:
        client = _client(server.url, authorize_url=f"{server.url}/custom-authorize")
        provider = await ClientProviders(Plugins()).get(client)
    assert provider.authorize_url == f"{server.url}/custom-authorize"


async def test_a_document_without_authorization_endpoint_leaves_it_unset() -> None:
    with issuer_serving(lambda s: {"issuer": s.url, "token_endpoint": f"{s.url}/token"}) as server:
        provider = await ClientProviders(Plugins()).get(_client(server.url))
    assert provider.token_url == f"{server.url}/token" and provider.authorize_url == ""
    with pytest.raises(Misconfigured, match="has no authorize_url configured"):
        provider.authorization_endpoint({})


def test_the_generic_provider_takes_the_authorization_side_from_configuration() -> None:
    client = OAuthClient(
        name="acme", provider="generic", client_id="cid", client_secret=SecretStr("s3cret-acme"),
        provider_options={
            "token_url": "https://auth.acme.example/oauth/token",
            "authorize_url": "https://auth.acme.example/oauth/authorize",
            "default_scopes": ["read", "write"], "offline_scopes": ["offline_access"],
            "authorize_params": {"prompt": "consent"}, "code_params": {"audience": "api"},
        },
    )
    provider = ClientProviders(Plugins()).static(client)
    params = provider.build_authorize_params(client, redirect_uri=REDIRECT, state="s", code_challenge="c")
    assert params["scope"] == "read write offline_access" and params["prompt"] == "consent"
    # the operator's own scopes replace the defaults, never the offline ones
    params = provider.build_authorize_params(client, redirect_uri=REDIRECT, state="s", code_challenge="c",
                                             scopes=("profile",))
    assert params["scope"] == "profile offline_access"
    request = provider.build_code_request(SecretStr("code-1"), client, {}, redirect_uri=REDIRECT, code_verifier="v")
    assert request.params == {"grant_type": "authorization_code", "code": "code-1", "redirect_uri": REDIRECT,
                              "code_verifier": "v", "audience": "api"}


@pytest.mark.parametrize("options, message", [
    ({"authorize_url": "https://10.0.0.1/authorize"}, "private"),                    # the deployment's policy
    ({"authorize_url": "http://auth.acme.example/authorize"}, "plain http"),
    ({"authorize_params": {"redirect_uri": "https://evil.example/cb"}}, "may not set redirect_uri"),
    ({"authorize_url": "https://auth.acme.example/authorize?state=fixed"}, "query may not set state"),
    ({"authorize_url": "https://auth.acme.example/authorize?scope=admin"}, "query may not set scope"),
    ({"authorize_params": {"response_type": "token"}}, "may not set response_type"),
    ({"code_params": {"grant_type": "password"}}, "may not set grant_type"),
    ({"code_params": {"client_secret": "x"}}, "may not set client_secret"),
    ({"default_scopes": ["read write"]}, "is not a scope"),
    ({"offline_scopes": ['a"b']}, "is not a scope"),
])
def test_bad_authorization_options_are_refused_naming_the_client(options: dict[str, Any], message: str) -> None:
    client = OAuthClient(name="acme", provider="generic", client_id="cid", client_secret=SecretStr("s3cret-acme"),
                         provider_options={"token_url": "https://auth.acme.example/oauth/token", **options})
    with pytest.raises(ConfigError, match=message) as info:
        ClientProviders(Plugins()).static(client)
    assert "acme" in str(info.value)
