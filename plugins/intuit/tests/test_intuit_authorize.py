"""intuit: the authorization side (``freshtoken connect``) replayed against the provider's own documentation.

The kit (``ProviderConformance`` in ``test_intuit.py``) checks the generic rules; these tests pin what the
documentation says, parameter by parameter, for the authorize URL and the code exchange as sent on the wire.
"""

from __future__ import annotations

import base64

from freshtoken_intuit import IntuitProvider
from pydantic import SecretStr

from freshtoken.testing import authorize_parts, code_exchange_on_wire, kit_client

P = IntuitProvider()
CLIENT = kit_client(P)
REDIRECT = "http://127.0.0.1:53682/callback"
ACCOUNT: dict[str, str] = {}


def test_documented_authorize_url() -> None:
    # https://developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-authorization/oauth-2.0
    # (authorization request to https://appcenter.intuit.com/connect/oauth2 with client_id,
    # scope=com.intuit.quickbooks.accounting, redirect_uri, response_type=code, state)
    url = P.build_authorize_url(CLIENT, ACCOUNT, redirect_uri=REDIRECT, state="st-1", code_challenge="ch-1",
                                scopes=None)
    endpoint, query = authorize_parts(url)
    assert endpoint == 'https://appcenter.intuit.com/connect/oauth2'
    assert query == {
        'client_id': ['kit-client-id'],
        'code_challenge': ['ch-1'],
        'code_challenge_method': ['S256'],
        'redirect_uri': ['http://127.0.0.1:53682/callback'],
        'response_type': ['code'],
        'scope': ['com.intuit.quickbooks.accounting'],
        'state': ['st-1'],
    }


def test_documented_code_exchange() -> None:
    # the same page (POST https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer, Authorization: Basic
    # base64(client_id:client_secret), grant_type=authorization_code, code, redirect_uri)
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
