"""shopify: the authorization side (``freshtoken connect``) replayed against the provider's own documentation.

The kit (``ProviderConformance`` in ``test_shopify.py``) checks the generic rules; these tests pin what the
documentation says, parameter by parameter, for the authorize URL and the code exchange as sent on the wire.
"""

from __future__ import annotations

import json

from freshtoken_shopify import ShopifyProvider
from pydantic import SecretStr

from freshtoken.testing import authorize_parts, code_exchange_on_wire, kit_client

P = ShopifyProvider()
CLIENT = kit_client(P)
REDIRECT = "http://127.0.0.1:53682/callback"
ACCOUNT: dict[str, str] = {'shop': 'acme.myshopify.com'}


def test_documented_authorize_url() -> None:
    # https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/authorization-code-grant
    # (redirect to https://{shop}.myshopify.com/admin/oauth/authorize with client_id, scope (comma-separated),
    # redirect_uri, state)
    url = P.build_authorize_url(CLIENT, ACCOUNT, redirect_uri=REDIRECT, state="st-1", code_challenge="ch-1",
                                scopes=('read_orders', 'write_products'))
    endpoint, query = authorize_parts(url)
    assert endpoint == 'https://acme.myshopify.com/admin/oauth/authorize'
    assert query == {
        'client_id': ['kit-client-id'],
        'code_challenge': ['ch-1'],
        'code_challenge_method': ['S256'],
        'redirect_uri': ['http://127.0.0.1:53682/callback'],
        'response_type': ['code'],
        'scope': ['read_orders,write_products'],
        'state': ['st-1'],
    }


def test_documented_code_exchange() -> None:
    # the same page (POST https://{shop}.myshopify.com/admin/oauth/access_token with client_id, client_secret,
    # code) and https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/offline-access-
    # tokens (expiring offline tokens: expiring=1 when exchanging the code; a 60-minute token and a refresh
    # token)
    request = P.build_code_request(SecretStr("code-1"), CLIENT, ACCOUNT, redirect_uri=REDIRECT, code_verifier="v" * 43)
    sent = code_exchange_on_wire(request, CLIENT)
    assert sent.url == P.token_endpoint(ACCOUNT)
    assert sent.headers["Content-Type"] == 'application/json'
    assert json.loads(sent.body) == {
        'grant_type': 'authorization_code',
        'code': 'code-1',
        'redirect_uri': 'http://127.0.0.1:53682/callback',
        'code_verifier': 'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv',
        'expiring': '1',
        'client_id': 'kit-client-id',
        'client_secret': 'kit-client-secret-7f3a9c',
    }
    assert "Authorization" not in sent.headers  # client_id and client_secret in the body
