"""x: the authorization side (``freshtoken connect``) replayed against the provider's own documentation.

The kit (``ProviderConformance`` in ``test_x.py``) checks the generic rules; these tests pin what the
documentation says, parameter by parameter, for the authorize URL and the code exchange as sent on the wire.
"""

from __future__ import annotations

import base64

from freshtoken_x import XProvider
from pydantic import SecretStr

from freshtoken.testing import authorize_parts, code_exchange_on_wire, kit_client

P = XProvider()
CLIENT = kit_client(P)
REDIRECT = "http://127.0.0.1:53682/callback"
ACCOUNT: dict[str, str] = {}


def test_documented_authorize_url() -> None:
    # https://docs.x.com/fundamentals/authentication/oauth-2-0/authorization-code (authorize URL with
    # response_type=code, client_id, redirect_uri, scope, state, code_challenge, code_challenge_method; "If the
    # scope offline.access is applied an OAuth 2.0 refresh token will be issued")
    url = P.build_authorize_url(CLIENT, ACCOUNT, redirect_uri=REDIRECT, state="st-1", code_challenge="ch-1",
                                scopes=('tweet.read', 'users.read'))
    endpoint, query = authorize_parts(url)
    assert endpoint == 'https://x.com/i/oauth2/authorize'
    assert query == {
        'client_id': ['kit-client-id'],
        'code_challenge': ['ch-1'],
        'code_challenge_method': ['S256'],
        'redirect_uri': ['http://127.0.0.1:53682/callback'],
        'response_type': ['code'],
        'scope': ['tweet.read users.read offline.access'],
        'state': ['st-1'],
    }


def test_documented_code_exchange() -> None:
    # the same page (POST https://api.x.com/2/oauth2/token with code, grant_type=authorization_code,
    # redirect_uri, code_verifier; confidential clients authenticate with Basic)
    request = P.build_code_request(SecretStr("code-1"), CLIENT, ACCOUNT, redirect_uri=REDIRECT, code_verifier="v" * 43)
    sent = code_exchange_on_wire(request, CLIENT)
    assert sent.url == P.token_endpoint(ACCOUNT)
    assert sent.headers["Content-Type"] == 'application/x-www-form-urlencoded'
    assert sent.form == {
        'grant_type': 'authorization_code',
        'code': 'code-1',
        'redirect_uri': 'http://127.0.0.1:53682/callback',
        'code_verifier': 'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv',
    }
    assert sent.headers["Authorization"] == "Basic " + base64.b64encode(b"kit-client-id:kit-client-secret-7f3a9c").decode()
