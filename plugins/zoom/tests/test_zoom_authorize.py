"""zoom: the authorization side (``freshtoken connect``) replayed against the provider's own documentation.

The kit (``ProviderConformance`` in ``test_zoom.py``) checks the generic rules; these tests pin what the
documentation says, parameter by parameter, for the authorize URL and the code exchange as sent on the wire.
"""

from __future__ import annotations

import base64

from freshtoken_zoom import ZoomProvider
from pydantic import SecretStr

from freshtoken.testing import authorize_parts, code_exchange_on_wire, kit_client

P = ZoomProvider()
CLIENT = kit_client(P)
REDIRECT = "http://127.0.0.1:53682/callback"
ACCOUNT: dict[str, str] = {}


def test_documented_authorize_url() -> None:
    # https://developers.zoom.us/docs/integrations/oauth/ (https://zoom.us/oauth/authorize with
    # response_type=code, client_id, redirect_uri, state) and https://developers.zoom.us/blog/pcke-oauth-with-
    # postman-rest-api/ (code_challenge, code_challenge_method=S256)
    url = P.build_authorize_url(CLIENT, ACCOUNT, redirect_uri=REDIRECT, state="st-1", code_challenge="ch-1",
                                scopes=None)
    endpoint, query = authorize_parts(url)
    assert endpoint == 'https://zoom.us/oauth/authorize'
    assert query == {
        'client_id': ['kit-client-id'],
        'code_challenge': ['ch-1'],
        'code_challenge_method': ['S256'],
        'redirect_uri': ['http://127.0.0.1:53682/callback'],
        'response_type': ['code'],
        'state': ['st-1'],
    }


def test_documented_code_exchange() -> None:
    # the same pages (POST https://zoom.us/oauth/token, Authorization: Basic base64(client_id:client_secret),
    # grant_type=authorization_code, code, redirect_uri, code_verifier)
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
