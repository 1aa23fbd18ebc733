"""microsoft: the authorization side (``freshtoken connect``) replayed against the provider's own documentation.

The kit (``ProviderConformance`` in ``test_microsoft.py``) checks the generic rules; these tests pin what the
documentation says, parameter by parameter, for the authorize URL and the code exchange as sent on the wire.
"""

from __future__ import annotations

from freshtoken_microsoft import MicrosoftProvider
from pydantic import SecretStr

from freshtoken.testing import authorize_parts, code_exchange_on_wire, kit_client

P = MicrosoftProvider()
CLIENT = kit_client(P)
REDIRECT = "http://127.0.0.1:53682/callback"
ACCOUNT: dict[str, str] = {'tenant': 'common'}


def test_documented_authorize_url() -> None:
    # https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow ("Request an
    # authorization code": https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize with client_id,
    # response_type=code, redirect_uri, scope "openid offline_access https://graph.microsoft.com/mail.read",
    # state, code_challenge, code_challenge_method=S256) and https://learn.microsoft.com/en-us/entra/identity-
    # platform/scopes-oidc#offline_access (a refresh token only with offline_access)
    url = P.build_authorize_url(CLIENT, ACCOUNT, redirect_uri=REDIRECT, state="st-1", code_challenge="ch-1",
                                scopes=('openid', 'https://graph.microsoft.com/mail.read'))
    endpoint, query = authorize_parts(url)
    assert endpoint == 'https://login.microsoftonline.com/common/oauth2/v2.0/authorize'
    assert query == {
        'client_id': ['kit-client-id'],
        'code_challenge': ['ch-1'],
        'code_challenge_method': ['S256'],
        'redirect_uri': ['http://127.0.0.1:53682/callback'],
        'response_type': ['code'],
        'scope': ['openid https://graph.microsoft.com/mail.read offline_access'],
        'state': ['st-1'],
    }


def test_documented_code_exchange() -> None:
    # the same page ("Redeem a code for an access token": POST /{tenant}/oauth2/v2.0/token with client_id, code,
    # redirect_uri, grant_type=authorization_code, code_verifier, client_secret)
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
