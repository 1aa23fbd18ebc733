"""bitbucket: the authorization side (``freshtoken connect``) replayed against the provider's own documentation.

The kit (``ProviderConformance`` in ``test_bitbucket.py``) checks the generic rules; these tests pin what the
documentation says, parameter by parameter, for the authorize URL and the code exchange as sent on the wire.
Source: https://developer.atlassian.com/cloud/bitbucket/oauth-2 ("1. Authorization Code Grant (4.1)").
Bitbucket documents no PKCE; the challenge is sent anyway (RFC 6749 §3.1: unknown parameters are ignored).
"""

from __future__ import annotations

from freshtoken_bitbucket import BitbucketProvider
from pydantic import SecretStr

from freshtoken.testing import authorize_parts, code_exchange_on_wire, kit_client

P = BitbucketProvider()
CLIENT = kit_client(P)
REDIRECT = "http://127.0.0.1:53682/callback"
ACCOUNT: dict[str, str] = {}


def test_documented_authorize_url() -> None:
    # "Request authorization from the end user by sending their browser to:
    # https://bitbucket.org/site/oauth2/authorize?client_id={client_id}&response_type=code". The scopes are the
    # consumer's (set when it is created): none is sent.
    url = P.build_authorize_url(CLIENT, ACCOUNT, redirect_uri=REDIRECT, state="st-1", code_challenge="ch-1")
    endpoint, query = authorize_parts(url)
    assert endpoint == "https://bitbucket.org/site/oauth2/authorize"
    assert query == {
        "client_id": ["kit-client-id"],
        "code_challenge": ["ch-1"],
        "code_challenge_method": ["S256"],
        "redirect_uri": ["http://127.0.0.1:53682/callback"],
        "response_type": ["code"],
        "state": ["st-1"],
    }


def test_documented_code_exchange() -> None:
    # curl -X POST -u "client_id:secret" https://bitbucket.org/site/oauth2/access_token
    #   -d grant_type=authorization_code -d code={code}
    request = P.build_code_request(SecretStr("code-1"), CLIENT, ACCOUNT, redirect_uri=REDIRECT,
                                   code_verifier="v" * 43)
    sent = code_exchange_on_wire(request, CLIENT)
    assert sent.url == "https://bitbucket.org/site/oauth2/access_token"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.headers["Authorization"] == "Basic a2l0LWNsaWVudC1pZDpraXQtY2xpZW50LXNlY3JldC03ZjNhOWM="
    assert sent.form == {
        "grant_type": "authorization_code",
        "code": "code-1",
        "redirect_uri": "http://127.0.0.1:53682/callback",  # RFC 6749 §4.1.3: repeats the authorize request's
        "code_verifier": "v" * 43,
    }
