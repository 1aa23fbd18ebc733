"""github: the authorization side (``freshtoken connect``) replayed against the provider's own documentation.

The kit (``ProviderConformance`` in ``test_github.py``) checks the generic rules; these tests pin what the
documentation says, parameter by parameter, for the authorize URL and the code exchange as sent on the wire.
"""

from __future__ import annotations

from freshtoken_github import GitHubProvider
from pydantic import SecretStr

from freshtoken.testing import authorize_parts, code_exchange_on_wire, kit_client

P = GitHubProvider()
CLIENT = kit_client(P)
REDIRECT = "http://127.0.0.1:53682/callback"
ACCOUNT: dict[str, str] = {}


def test_documented_authorize_url() -> None:
    # https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-user-
    # access-token-for-a-github-app (https://github.com/login/oauth/authorize with client_id, redirect_uri,
    # state; user access tokens use fine-grained permissions, not scopes) and
    # https://github.blog/changelog/2025-07-14-pkce-support-for-oauth-and-github-app-authentication
    # (code_challenge, code_challenge_method; "Only the S256 code challenge method is accepted")
    url = P.build_authorize_url(CLIENT, ACCOUNT, redirect_uri=REDIRECT, state="st-1", code_challenge="ch-1",
                                scopes=None)
    endpoint, query = authorize_parts(url)
    assert endpoint == 'https://github.com/login/oauth/authorize'
    assert query == {
        'client_id': ['kit-client-id'],
        'code_challenge': ['ch-1'],
        'code_challenge_method': ['S256'],
        'redirect_uri': ['http://127.0.0.1:53682/callback'],
        'response_type': ['code'],
        'state': ['st-1'],
    }


def test_documented_code_exchange() -> None:
    # the same page (POST https://github.com/login/oauth/access_token with client_id, client_secret, code,
    # redirect_uri) and the changelog ("include the corresponding code_verifier parameter when exchanging the
    # authorization code")
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
