"""figma: the authorization side (``freshtoken connect``) replayed against the provider's own documentation.

The kit (``ProviderConformance`` in ``test_figma.py``) checks the generic rules; these tests pin what the
documentation says, parameter by parameter, for the authorize URL and the code exchange as sent on the wire.
Source: Figma's own OpenAPI description of its REST API, https://github.com/figma/rest-api-spec
(``components.securitySchemes.OAuth2.flows.authorizationCode``: ``authorizationUrl``
https://www.figma.com/oauth, ``tokenUrl`` https://api.figma.com/v1/oauth/token, scopes such as ``files:read``).
The query parameters beyond RFC 6749 §4.1.1 and the exchange's client authentication are not on the pages
found: no extra parameter is declared; the challenge is sent (RFC 6749 §3.1: unknown parameters are ignored).
"""

from __future__ import annotations

from freshtoken_figma import FigmaProvider
from pydantic import SecretStr

from freshtoken.testing import authorize_parts, code_exchange_on_wire, kit_client

P = FigmaProvider()
CLIENT = kit_client(P)
REDIRECT = "http://127.0.0.1:53682/callback"
ACCOUNT: dict[str, str] = {}


def test_documented_authorize_url() -> None:
    # rest-api-spec, securitySchemes.OAuth2: authorizationUrl https://www.figma.com/oauth; scope files:read.
    url = P.build_authorize_url(CLIENT, ACCOUNT, redirect_uri=REDIRECT, state="st-1", code_challenge="ch-1",
                                scopes=("files:read",))
    endpoint, query = authorize_parts(url)
    assert endpoint == "https://www.figma.com/oauth"
    assert query == {
        "client_id": ["kit-client-id"],
        "code_challenge": ["ch-1"],
        "code_challenge_method": ["S256"],
        "redirect_uri": ["http://127.0.0.1:53682/callback"],
        "response_type": ["code"],
        "scope": ["files:read"],
        "state": ["st-1"],
    }


def test_documented_code_exchange() -> None:
    # rest-api-spec, securitySchemes.OAuth2: tokenUrl https://api.figma.com/v1/oauth/token (the code's endpoint;
    # refreshes go to /v1/oauth/refresh, token_url). RFC 6749 §4.1.3 parameters, credentials in the body.
    request = P.build_code_request(SecretStr("code-1"), CLIENT, ACCOUNT, redirect_uri=REDIRECT,
                                   code_verifier="v" * 43)
    sent = code_exchange_on_wire(request, CLIENT)
    assert sent.url == "https://api.figma.com/v1/oauth/token"
    assert sent.url != P.token_endpoint(ACCOUNT)
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.form == {
        "grant_type": "authorization_code",
        "code": "code-1",
        "redirect_uri": "http://127.0.0.1:53682/callback",
        "code_verifier": "v" * 43,
        "client_id": "kit-client-id",
        "client_secret": "kit-client-secret-7f3a9c",
    }
