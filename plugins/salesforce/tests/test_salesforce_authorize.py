"""salesforce: the authorization side (``freshtoken connect``) replayed against the provider's own documentation.

The kit (``ProviderConformance`` in ``test_salesforce.py``) checks the generic rules; these tests pin what the
documentation says, parameter by parameter, for the authorize URL and the code exchange as sent on the wire.
"""

from __future__ import annotations

from freshtoken_salesforce import SalesforceProvider
from pydantic import SecretStr

from freshtoken.testing import authorize_parts, code_exchange_on_wire, kit_client

P = SalesforceProvider()
CLIENT = kit_client(P)
REDIRECT = "http://127.0.0.1:53682/callback"
ACCOUNT: dict[str, str] = {'my_domain': 'acme.my.salesforce.com'}


def test_documented_authorize_url() -> None:
    # https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_web_server_flow.htm (redirect to
    # https://MyDomainName.my.salesforce.com/services/oauth2/authorize with response_type=code, client_id,
    # redirect_uri, scope, state, code_challenge) and
    # https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_tokens_scopes.htm (refresh_token:
    # "Allows a refresh token to be returned"; api: REST API access)
    url = P.build_authorize_url(CLIENT, ACCOUNT, redirect_uri=REDIRECT, state="st-1", code_challenge="ch-1",
                                scopes=None)
    endpoint, query = authorize_parts(url)
    assert endpoint == 'https://acme.my.salesforce.com/services/oauth2/authorize'
    assert query == {
        'client_id': ['kit-client-id'],
        'code_challenge': ['ch-1'],
        'code_challenge_method': ['S256'],
        'redirect_uri': ['http://127.0.0.1:53682/callback'],
        'response_type': ['code'],
        'scope': ['api refresh_token'],
        'state': ['st-1'],
    }


def test_documented_code_exchange() -> None:
    # the web server flow page (POST /services/oauth2/token with grant_type=authorization_code, code, client_id,
    # client_secret, redirect_uri, code_verifier)
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
