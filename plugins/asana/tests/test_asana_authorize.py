"""asana: the authorization side (``freshtoken connect``) replayed against the provider's own documentation.

The kit (``ProviderConformance`` in ``test_asana.py``) checks the generic rules; these tests pin what the
documentation says, parameter by parameter, for the authorize URL and the code exchange as sent on the wire.
Source: https://developers.asana.com/docs/oauth ("Quick reference": "The endpoint for user authorization is GET
https://app.asana.com/-/oauth_authorize", "The endpoint for token exchange is POST
https://app.asana.com/-/oauth_token"; the authorization code grant). The pages found list no extra authorize
parameter: none is declared; scopes are the operator's.
"""

from __future__ import annotations

from freshtoken_asana import AsanaProvider
from pydantic import SecretStr

from freshtoken.testing import authorize_parts, code_exchange_on_wire, kit_client

P = AsanaProvider()
CLIENT = kit_client(P)
REDIRECT = "http://127.0.0.1:53682/callback"
ACCOUNT: dict[str, str] = {}


def test_documented_authorize_url() -> None:
    # GET https://app.asana.com/-/oauth_authorize with the RFC 6749 §4.1.1 parameters; no scope unless named.
    url = P.build_authorize_url(CLIENT, ACCOUNT, redirect_uri=REDIRECT, state="st-1", code_challenge="ch-1")
    endpoint, query = authorize_parts(url)
    assert endpoint == "https://app.asana.com/-/oauth_authorize"
    assert query == {
        "client_id": ["kit-client-id"],
        "code_challenge": ["ch-1"],
        "code_challenge_method": ["S256"],
        "redirect_uri": ["http://127.0.0.1:53682/callback"],
        "response_type": ["code"],
        "state": ["st-1"],
    }


def test_documented_code_exchange() -> None:
    # POST https://app.asana.com/-/oauth_token, form body: grant_type=authorization_code, code, redirect_uri,
    # the verifier, and client_id / client_secret in the body as the plugin's refresh sends them.
    request = P.build_code_request(SecretStr("code-1"), CLIENT, ACCOUNT, redirect_uri=REDIRECT,
                                   code_verifier="v" * 43)
    sent = code_exchange_on_wire(request, CLIENT)
    assert sent.url == "https://app.asana.com/-/oauth_token"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.form == {
        "grant_type": "authorization_code",
        "code": "code-1",
        "redirect_uri": "http://127.0.0.1:53682/callback",
        "code_verifier": "v" * 43,
        "client_id": "kit-client-id",
        "client_secret": "kit-client-secret-7f3a9c",
    }
    assert "Authorization" not in sent.headers
