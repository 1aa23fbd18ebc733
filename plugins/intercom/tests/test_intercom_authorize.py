"""intercom: the authorization side (``freshtoken connect``) replayed against the provider's own documentation.

The kit (``ProviderConformance`` in ``test_intercom.py``) checks the generic rules; these tests pin what the
documentation says, parameter by parameter, for the authorize URL and the code exchange as sent on the wire.
Sources: https://intercom-developer-hub.readme.io/reference/using-oauth and
https://developers.intercom.com/building-apps/docs/setting-up-oauth ("Redirect URLs must use HTTPS": the
redirect here is a deployed service's admin API callback, never the CLI's loopback listener).
"""

from __future__ import annotations

from freshtoken_intercom import IntercomProvider
from pydantic import SecretStr

from freshtoken.testing import authorize_parts, code_exchange_on_wire, kit_client

P = IntercomProvider()
CLIENT = kit_client(P)
REDIRECT = "https://freshtoken.example/connect/callback"
ACCOUNT: dict[str, str] = {}


def test_documented_authorize_url() -> None:
    # "Initiating the OAuth flow": https://app.intercom.io/oauth with client_id (required), state (recommended),
    # redirect_uri (optional: one of the app's predefined URLs). No scope parameter: permissions are set on the
    # app in the Developer Hub, so none is sent. No PKCE is documented; the challenge is sent anyway (RFC 6749
    # §3.1: unknown parameters are ignored).
    url = P.build_authorize_url(CLIENT, ACCOUNT, redirect_uri=REDIRECT, state="st-1", code_challenge="ch-1")
    endpoint, query = authorize_parts(url)
    assert endpoint == "https://app.intercom.io/oauth"
    assert query == {
        "client_id": ["kit-client-id"],
        "code_challenge": ["ch-1"],
        "code_challenge_method": ["S256"],
        "redirect_uri": ["https://freshtoken.example/connect/callback"],
        "response_type": ["code"],
        "state": ["st-1"],
    }


def test_documented_code_exchange() -> None:
    # "Handling the redirect": POST https://api.intercom.io/auth/eagle/token with code, client_id, client_secret
    # (the RFC 6749 §4.1.3 grant_type and redirect_uri go along).
    request = P.build_code_request(SecretStr("code-1"), CLIENT, ACCOUNT, redirect_uri=REDIRECT,
                                   code_verifier="v" * 43)
    sent = code_exchange_on_wire(request, CLIENT)
    assert sent.url == "https://api.intercom.io/auth/eagle/token"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = sent.form
    assert {k: form[k] for k in ("code", "client_id", "client_secret")} == {
        "code": "code-1",
        "client_id": "kit-client-id",
        "client_secret": "kit-client-secret-7f3a9c",
    }
    assert form["grant_type"] == "authorization_code"
    assert "Authorization" not in sent.headers
