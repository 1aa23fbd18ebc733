"""pipedrive: the authorization side (``freshtoken connect``) replayed against the provider's own documentation.

The kit (``ProviderConformance`` in ``test_pipedrive.py``) checks the generic rules; these tests pin what the
documentation says, parameter by parameter, for the authorize URL and the code exchange as sent on the wire.
Sources: https://pipedrive.readme.io/docs/marketplace-oauth-authorization and
https://developers.pipedrive.com/docs/api/v1/Oauth. Pipedrive documents no PKCE; the challenge is sent anyway
(RFC 6749 §3.1: a server ignores parameters it does not know).
"""

from __future__ import annotations

from freshtoken_pipedrive import PipedriveProvider
from pydantic import SecretStr

from freshtoken.testing import authorize_parts, code_exchange_on_wire, kit_client

P = PipedriveProvider()
CLIENT = kit_client(P)
REDIRECT = "http://127.0.0.1:53682/callback"
ACCOUNT: dict[str, str] = {}


def test_documented_authorize_url() -> None:
    # "Step 1: Requesting authorization": GET https://oauth.pipedrive.com/oauth/authorize?client_id=...&state=...
    # &redirect_uri=... (client_id and redirect_uri required, state optional). No scope parameter: the scopes
    # are chosen when the app is registered, so none is sent.
    url = P.build_authorize_url(CLIENT, ACCOUNT, redirect_uri=REDIRECT, state="st-1", code_challenge="ch-1")
    endpoint, query = authorize_parts(url)
    assert endpoint == "https://oauth.pipedrive.com/oauth/authorize"
    assert query == {
        "client_id": ["kit-client-id"],
        "code_challenge": ["ch-1"],
        "code_challenge_method": ["S256"],
        "redirect_uri": ["http://127.0.0.1:53682/callback"],
        "response_type": ["code"],
        "state": ["st-1"],
    }


def test_documented_code_exchange() -> None:
    # "Step 3: Getting the tokens": POST https://oauth.pipedrive.com/oauth/token, Authorization: Basic
    # base64(client_id:client_secret), form body grant_type=authorization_code, code, redirect_uri.
    request = P.build_code_request(SecretStr("code-1"), CLIENT, ACCOUNT, redirect_uri=REDIRECT,
                                   code_verifier="v" * 43)
    sent = code_exchange_on_wire(request, CLIENT)
    assert sent.url == "https://oauth.pipedrive.com/oauth/token"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.headers["Authorization"] == "Basic a2l0LWNsaWVudC1pZDpraXQtY2xpZW50LXNlY3JldC03ZjNhOWM="
    assert sent.form == {
        "grant_type": "authorization_code",
        "code": "code-1",
        "redirect_uri": "http://127.0.0.1:53682/callback",
        "code_verifier": "v" * 43,
    }
