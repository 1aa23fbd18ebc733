"""discord: the authorization side (``freshtoken connect``) replayed against the provider's own documentation.

The kit (``ProviderConformance`` in ``test_discord.py``) checks the generic rules; these tests pin what the
documentation says, parameter by parameter, for the authorize URL and the code exchange as sent on the wire.
Source: https://discord.com/developers/docs/topics/oauth2 (github.com/discord/discord-api-docs,
docs/topics/oauth2.mdx). Discord documents no PKCE; the challenge is sent anyway (RFC 6749 §3.1: a server
ignores parameters it does not know).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from freshtoken_discord import DiscordProvider
from pydantic import SecretStr

from freshtoken.testing import authorize_parts, code_exchange_on_wire, kit_client

P = DiscordProvider()
CLIENT = kit_client(P)
REDIRECT = "http://127.0.0.1:53682/callback"
ACCOUNT: dict[str, str] = {}


def test_documented_authorize_url() -> None:
    # "OAuth2 URLs": https://discord.com/oauth2/authorize is the base authorization URL. "Authorization URL
    # Example": response_type=code, client_id, scope "a list of OAuth2 scopes separated by url encoded spaces
    # (%20)" (identify%20guilds.join), state, redirect_uri. prompt and integration_type are optional and not sent.
    url = P.build_authorize_url(CLIENT, ACCOUNT, redirect_uri=REDIRECT, state="st-1", code_challenge="ch-1",
                                scopes=("identify", "guilds.join"))
    endpoint, query = authorize_parts(url)
    assert endpoint == "https://discord.com/oauth2/authorize"
    assert "scope=identify%20guilds.join" in url  # %20, never '+'
    assert query == {
        "client_id": ["kit-client-id"],
        "code_challenge": ["ch-1"],
        "code_challenge_method": ["S256"],
        "redirect_uri": ["http://127.0.0.1:53682/callback"],
        "response_type": ["code"],
        "scope": ["identify guilds.join"],
        "state": ["st-1"],
    }


def test_no_scope_is_invented() -> None:
    # Discord names no default scope: with none from the operator, none is sent.
    url = P.build_authorize_url(CLIENT, ACCOUNT, redirect_uri=REDIRECT, state="st-1", code_challenge="ch-1")
    assert "scope" not in parse_qs(urlsplit(url).query)


def test_documented_code_exchange() -> None:
    # "Access Token Exchange Example": POST to the token URL (https://discord.com/api/oauth2/token), form body
    # ("will only accept a content type of application/x-www-form-urlencoded"), grant_type=authorization_code,
    # code, redirect_uri; "All calls to the OAuth2 endpoints require either HTTP Basic authentication or
    # client_id and client_secret supplied in the form data body" (the plugin uses the body).
    request = P.build_code_request(SecretStr("code-1"), CLIENT, ACCOUNT, redirect_uri=REDIRECT,
                                   code_verifier="v" * 43)
    sent = code_exchange_on_wire(request, CLIENT)
    assert sent.url == "https://discord.com/api/oauth2/token"
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
