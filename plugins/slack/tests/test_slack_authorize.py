"""slack: the authorization side (``freshtoken connect``) replayed against the provider's own documentation.

The kit (``ProviderConformance`` in ``test_slack.py``) checks the generic rules; these tests pin what the
documentation says, parameter by parameter, for the authorize URL and the code exchange as sent on the wire.
"""

from __future__ import annotations

from freshtoken_slack import SlackProvider
from pydantic import SecretStr

from freshtoken.testing import authorize_parts, code_exchange_on_wire, kit_client

P = SlackProvider()
CLIENT = kit_client(P)
REDIRECT = "http://127.0.0.1:53682/callback"
ACCOUNT: dict[str, str] = {}


def test_documented_authorize_url() -> None:
    # https://docs.slack.dev/authentication/installing-with-oauth (https://slack.com/oauth/v2/authorize with
    # client_id, scope (comma-separated bot scopes), user_scope, redirect_uri, state)
    url = P.build_authorize_url(CLIENT, ACCOUNT, redirect_uri=REDIRECT, state="st-1", code_challenge="ch-1",
                                scopes=('chat:write', 'channels:read'))
    endpoint, query = authorize_parts(url)
    assert endpoint == 'https://slack.com/oauth/v2/authorize'
    assert query == {
        'client_id': ['kit-client-id'],
        'code_challenge': ['ch-1'],
        'code_challenge_method': ['S256'],
        'redirect_uri': ['http://127.0.0.1:53682/callback'],
        'response_type': ['code'],
        'scope': ['chat:write,channels:read'],
        'state': ['st-1'],
    }


def test_documented_code_exchange() -> None:
    # the same page (exchange the code at https://slack.com/api/oauth.v2.access with client_id, client_secret,
    # code, redirect_uri) and https://docs.slack.dev/authentication/using-token-rotation
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
