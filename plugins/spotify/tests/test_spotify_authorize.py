"""spotify: the authorization side (``freshtoken connect``) replayed against the provider's own documentation.

The kit (``ProviderConformance`` in ``test_spotify.py``) checks the generic rules; these tests pin what the
documentation says, parameter by parameter, for the authorize URL and the code exchange as sent on the wire.
"""

from __future__ import annotations

import base64

from freshtoken_spotify import SpotifyProvider
from pydantic import SecretStr

from freshtoken.testing import authorize_parts, code_exchange_on_wire, kit_client

P = SpotifyProvider()
CLIENT = kit_client(P)
REDIRECT = "http://127.0.0.1:53682/callback"
ACCOUNT: dict[str, str] = {}


def test_documented_authorize_url() -> None:
    # https://developer.spotify.com/documentation/web-api/tutorials/code-flow (GET
    # https://accounts.spotify.com/authorize with client_id, response_type=code, redirect_uri, state, scope
    # (space-separated), show_dialog) and .../tutorials/code-pkce-flow (code_challenge_method=S256,
    # code_challenge)
    url = P.build_authorize_url(CLIENT, ACCOUNT, redirect_uri=REDIRECT, state="st-1", code_challenge="ch-1",
                                scopes=('user-read-private', 'user-read-email'))
    endpoint, query = authorize_parts(url)
    assert endpoint == 'https://accounts.spotify.com/authorize'
    assert query == {
        'client_id': ['kit-client-id'],
        'code_challenge': ['ch-1'],
        'code_challenge_method': ['S256'],
        'redirect_uri': ['http://127.0.0.1:53682/callback'],
        'response_type': ['code'],
        'scope': ['user-read-private user-read-email'],
        'state': ['st-1'],
    }


def test_documented_code_exchange() -> None:
    # the code-flow page (POST https://accounts.spotify.com/api/token with grant_type=authorization_code, code,
    # redirect_uri; Authorization: Basic base64(client_id:client_secret))
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
