"""atlassian: the authorization side (``freshtoken connect``) replayed against the provider's own documentation.

The kit (``ProviderConformance`` in ``test_atlassian.py``) checks the generic rules; these tests pin what the
documentation says, parameter by parameter, for the authorize URL and the code exchange as sent on the wire.
"""

from __future__ import annotations

import json

from freshtoken_atlassian import AtlassianProvider
from pydantic import SecretStr

from freshtoken.testing import authorize_parts, code_exchange_on_wire, kit_client

P = AtlassianProvider()
CLIENT = kit_client(P)
REDIRECT = "http://127.0.0.1:53682/callback"
ACCOUNT: dict[str, str] = {}


def test_documented_authorize_url() -> None:
    # https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/ ("Direct the user to the
    # authorization URL": audience=api.atlassian.com, client_id, scope, redirect_uri, state, response_type=code,
    # prompt=consent; "Use a refresh token": add offline_access to the scope)
    url = P.build_authorize_url(CLIENT, ACCOUNT, redirect_uri=REDIRECT, state="st-1", code_challenge="ch-1",
                                scopes=('read:jira-work',))
    endpoint, query = authorize_parts(url)
    assert endpoint == 'https://auth.atlassian.com/authorize'
    assert query == {
        'audience': ['api.atlassian.com'],
        'client_id': ['kit-client-id'],
        'code_challenge': ['ch-1'],
        'code_challenge_method': ['S256'],
        'prompt': ['consent'],
        'redirect_uri': ['http://127.0.0.1:53682/callback'],
        'response_type': ['code'],
        'scope': ['read:jira-work offline_access'],
        'state': ['st-1'],
    }


def test_documented_code_exchange() -> None:
    # https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/ ("Exchange authorization code for
    # access token": POST https://auth.atlassian.com/oauth/token, JSON body with grant_type=authorization_code,
    # client_id, client_secret, code, redirect_uri)
    request = P.build_code_request(SecretStr("code-1"), CLIENT, ACCOUNT, redirect_uri=REDIRECT, code_verifier="v" * 43)
    sent = code_exchange_on_wire(request, CLIENT)
    assert sent.url == P.token_endpoint(ACCOUNT)
    assert sent.headers["Content-Type"] == 'application/json'
    assert json.loads(sent.body) == {
        'grant_type': 'authorization_code',
        'code': 'code-1',
        'redirect_uri': 'http://127.0.0.1:53682/callback',
        'code_verifier': 'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv',
        'client_id': 'kit-client-id',
        'client_secret': 'kit-client-secret-7f3a9c',
    }
    assert "Authorization" not in sent.headers  # client_id and client_secret in the body
