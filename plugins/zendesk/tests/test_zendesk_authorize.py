"""zendesk: the authorization side (``freshtoken connect``) replayed against the provider's own documentation.

The kit (``ProviderConformance`` in ``test_zendesk.py``) checks the generic rules; these tests pin what the
documentation says, parameter by parameter, for the authorize URL and the code exchange as sent on the wire.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from freshtoken_zendesk import ZendeskProvider
from pydantic import SecretStr

from freshtoken.http import prepare
from freshtoken.testing import kit_client

P = ZendeskProvider()
CLIENT = kit_client(P)
REDIRECT = "http://127.0.0.1:53682/callback"
ACCOUNT: dict[str, str] = {'subdomain': 'acme'}


def test_documented_authorize_url() -> None:
    # https://support.zendesk.com/hc/en-us/articles/4408845965210 ("Using OAuth authentication with your
    # application": https://{subdomain}.zendesk.com/oauth/authorizations/new with response_type=code,
    # redirect_uri, client_id, scope (e.g. "read write"), state, code_challenge, code_challenge_method)
    url = P.build_authorize_url(CLIENT, ACCOUNT, redirect_uri=REDIRECT, state="st-1", code_challenge="ch-1",
                                scopes=('read', 'write'))
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == 'https://acme.zendesk.com/oauth/authorizations/new'
    assert parse_qs(parts.query) == {
        'client_id': ['kit-client-id'],
        'code_challenge': ['ch-1'],
        'code_challenge_method': ['S256'],
        'redirect_uri': ['http://127.0.0.1:53682/callback'],
        'response_type': ['code'],
        'scope': ['read write'],
        'state': ['st-1'],
    }


def test_documented_code_exchange() -> None:
    # https://developer.zendesk.com/api-reference/ticketing/oauth/grant_type_tokens/ (POST /oauth/tokens, JSON:
    # grant_type=authorization_code, code, client_id, client_secret, redirect_uri, and code_verifier when using
    # PKCE)
    request = P.build_code_request(SecretStr("code-1"), CLIENT, ACCOUNT, redirect_uri=REDIRECT, code_verifier="v" * 43)
    url, headers, body = prepare(request, CLIENT)
    assert url == P.token_endpoint(ACCOUNT)
    assert headers["Content-Type"] == 'application/json'
    assert json.loads(body) == {
        'grant_type': 'authorization_code',
        'code': 'code-1',
        'redirect_uri': 'http://127.0.0.1:53682/callback',
        'code_verifier': 'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv',
        'client_id': 'kit-client-id',
        'client_secret': 'kit-client-secret-7f3a9c',
    }
    assert "Authorization" not in headers  # client_id and client_secret in the body
