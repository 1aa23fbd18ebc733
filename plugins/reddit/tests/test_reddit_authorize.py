"""reddit: the authorization side (``freshtoken connect``) replayed against the provider's own documentation.

The kit (``ProviderConformance`` in ``test_reddit.py``) checks the generic rules; these tests pin what the
documentation says, parameter by parameter, for the authorize URL and the code exchange as sent on the wire.
Source: https://github.com/reddit-archive/reddit/wiki/OAuth2 ("Authorization" and "Token Retrieval (code
flow)"). Reddit documents no PKCE; the challenge is sent anyway (RFC 6749 §3.1: unknown parameters ignored).
"""

from __future__ import annotations

from freshtoken_reddit import RedditProvider
from pydantic import SecretStr

from freshtoken.testing import authorize_parts, code_exchange_on_wire, kit_client

UA = "web:io.freshtoken.kit:v0.1 (by /u/freshtoken_kit)"
P = RedditProvider(user_agent=UA)
CLIENT = kit_client(P)
REDIRECT = "http://127.0.0.1:53682/callback"
ACCOUNT: dict[str, str] = {}


def test_documented_authorize_url() -> None:
    # https://www.reddit.com/api/v1/authorize?client_id=CLIENT_ID&response_type=TYPE&state=RANDOM_STRING
    # &redirect_uri=URI&duration=DURATION&scope=SCOPE_STRING; duration "permanent" is the one that brings a
    # refresh token; scope e.g. identity (https://www.reddit.com/api/v1/scopes lists them).
    url = P.build_authorize_url(CLIENT, ACCOUNT, redirect_uri=REDIRECT, state="st-1", code_challenge="ch-1",
                                scopes=("identity",))
    endpoint, query = authorize_parts(url)
    assert endpoint == "https://www.reddit.com/api/v1/authorize"
    assert query == {
        "client_id": ["kit-client-id"],
        "code_challenge": ["ch-1"],
        "code_challenge_method": ["S256"],
        "duration": ["permanent"],
        "redirect_uri": ["http://127.0.0.1:53682/callback"],
        "response_type": ["code"],
        "scope": ["identity"],
        "state": ["st-1"],
    }


def test_documented_code_exchange() -> None:
    # "Token Retrieval (code flow)": POST https://www.reddit.com/api/v1/access_token with
    # grant_type=authorization_code&code=CODE&redirect_uri=URI, "using HTTP Basic Auth" (client id as the
    # user, secret as the password); the wiki's API rules ask for a unique User-Agent on every request.
    request = P.build_code_request(SecretStr("code-1"), CLIENT, ACCOUNT, redirect_uri=REDIRECT,
                                   code_verifier="v" * 43)
    sent = code_exchange_on_wire(request, CLIENT)
    assert sent.url == "https://www.reddit.com/api/v1/access_token"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.headers["Authorization"] == "Basic a2l0LWNsaWVudC1pZDpraXQtY2xpZW50LXNlY3JldC03ZjNhOWM="
    assert sent.headers["User-Agent"] == UA
    assert sent.form == {
        "grant_type": "authorization_code",
        "code": "code-1",
        "redirect_uri": "http://127.0.0.1:53682/callback",
        "code_verifier": "v" * 43,
    }
