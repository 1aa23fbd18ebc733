"""calendly: the authorization side (``freshtoken connect``) replayed against the provider's own documentation.

The kit (``ProviderConformance`` in ``test_calendly.py``) checks the generic rules; these tests pin what the
documentation says, parameter by parameter, for the authorize URL and the code exchange as sent on the wire.
The redirect URI is ``localhost`` (``freshtoken connect --redirect-host localhost``): Calendly's Sandbox apps
take "HTTP with localhost domain", Production apps only HTTPS
(https://developer.calendly.com/creating-an-oauth-app).
"""

from __future__ import annotations

from freshtoken_calendly import CalendlyProvider
from pydantic import SecretStr

from freshtoken.testing import authorize_parts, code_exchange_on_wire, kit_client

P = CalendlyProvider()
CLIENT = kit_client(P)
REDIRECT = "http://localhost:53682/callback"
ACCOUNT: dict[str, str] = {}


def test_documented_authorize_url() -> None:
    # https://developer.calendly.com/api-docs/calendly-o-auth/o-auth/get-oauth-authorize ("GET
    # https://auth.calendly.com/oauth/authorize", client_id, response_type=code, redirect_uri; "we recommend
    # using the PKCE flow for all OAuth applications") and https://developer.calendly.com/creating-an-oauth-app
    # ("use a specific redirect_uri, a Proof Key for Code Exchange (PKCE), and S256 for code_challenge_method").
    # Scopes are chosen for the app at registration: none is requested unless the operator names some.
    url = P.build_authorize_url(CLIENT, ACCOUNT, redirect_uri=REDIRECT, state="st-1", code_challenge="ch-1")
    endpoint, query = authorize_parts(url)
    assert endpoint == "https://auth.calendly.com/oauth/authorize"
    assert query == {
        "client_id": ["kit-client-id"],
        "code_challenge": ["ch-1"],
        "code_challenge_method": ["S256"],
        "redirect_uri": ["http://localhost:53682/callback"],
        "response_type": ["code"],
        "state": ["st-1"],
    }


def test_documented_code_exchange() -> None:
    # https://developer.calendly.com/how-to-access-calendly-data-on-behalf-of-authenticated-users ("make a POST
    # request to Get Access Token"; the code expires after 10 minutes) and the "Get access token" reference
    # (https://calendly-preview.mintlify.app/api-reference/auth/oauth/get-access-token: POST
    # https://auth.calendly.com/oauth/token). The parameters are RFC 6749 §4.1.3's with RFC 7636's
    # code_verifier (the PKCE flow Calendly recommends); client_id and client_secret in the body, as the
    # plugin's refresh sends them (auth_method client_secret_post).
    request = P.build_code_request(SecretStr("code-1"), CLIENT, ACCOUNT, redirect_uri=REDIRECT,
                                   code_verifier="v" * 43)
    sent = code_exchange_on_wire(request, CLIENT)
    assert sent.url == "https://auth.calendly.com/oauth/token"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.form == {
        "grant_type": "authorization_code",
        "code": "code-1",
        "redirect_uri": "http://localhost:53682/callback",
        "code_verifier": "v" * 43,
        "client_id": "kit-client-id",
        "client_secret": "kit-client-secret-7f3a9c",
    }
    assert "Authorization" not in sent.headers
