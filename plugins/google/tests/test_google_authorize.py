"""google: the authorization side (``freshtoken connect``) replayed against the provider's own documentation.

The kit (``ProviderConformance`` in ``test_google.py``) checks the generic rules; these tests pin what the
documentation says, parameter by parameter, for the authorize URL and the code exchange as sent on the wire.
"""

from __future__ import annotations

from freshtoken_google import GoogleProvider
from pydantic import SecretStr

from freshtoken.testing import authorize_parts, code_exchange_on_wire, kit_client

P = GoogleProvider()
CLIENT = kit_client(P)
REDIRECT = "http://127.0.0.1:53682/callback"
ACCOUNT: dict[str, str] = {}


def test_documented_authorize_url() -> None:
    # https://developers.google.com/identity/protocols/oauth2/web-server ("Step 2: Redirect to Google's OAuth
    # 2.0 server": https://accounts.google.com/o/oauth2/v2/auth, client_id, redirect_uri, response_type=code,
    # scope (required), access_type=offline "if your application needs to refresh access tokens", state,
    # code_challenge / code_challenge_method, prompt=consent)
    url = P.build_authorize_url(CLIENT, ACCOUNT, redirect_uri=REDIRECT, state="st-1", code_challenge="ch-1",
                                scopes=('https://www.googleapis.com/auth/drive.metadata.readonly',))
    endpoint, query = authorize_parts(url)
    assert endpoint == 'https://accounts.google.com/o/oauth2/v2/auth'
    assert query == {
        'access_type': ['offline'],
        'client_id': ['kit-client-id'],
        'code_challenge': ['ch-1'],
        'code_challenge_method': ['S256'],
        'prompt': ['consent'],
        'redirect_uri': ['http://127.0.0.1:53682/callback'],
        'response_type': ['code'],
        'scope': ['https://www.googleapis.com/auth/drive.metadata.readonly'],
        'state': ['st-1'],
    }


def test_documented_code_exchange() -> None:
    # the same page ("Step 5: Exchange authorization code for refresh and access tokens": POST
    # https://oauth2.googleapis.com/token with client_id, client_secret, code, code_verifier,
    # grant_type=authorization_code, redirect_uri)
    request = P.build_code_request(SecretStr("code-1"), CLIENT, ACCOUNT, redirect_uri=REDIRECT, code_verifier="v" * 43)
    sent = code_exchange_on_wire(request, CLIENT)
    assert sent.url == P.token_endpoint(ACCOUNT)
    assert sent.headers["Content-Type"] == 'application/x-www-form-urlencoded'
    assert sent.form == {
        'grant_type': 'authorization_code',
        'code': 'code-1',
        'redirect_uri': 'http://127.0.0.1:53682/callback',
        'code_verifier': 'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv',
        'client_id': 'kit-client-id',
        'client_secret': 'kit-client-secret-7f3a9c',
    }
    assert "Authorization" not in sent.headers  # client_id and client_secret in the body
