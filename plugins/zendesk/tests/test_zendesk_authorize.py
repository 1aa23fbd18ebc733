"""zendesk: the authorization side (``freshtoken connect``) replayed against the provider's own documentation.

The kit (``ProviderConformance`` in ``test_zendesk.py``) checks the generic rules; these tests pin what the
documentation says, parameter by parameter, for the authorize URL and the code exchange as sent on the wire.
"""

from __future__ import annotations

import json

from freshtoken_zendesk import ZendeskProvider
from pydantic import SecretStr

from freshtoken.testing import authorize_parts, code_exchange_on_wire, kit_client

P = ZendeskProvider()
CLIENT = kit_client(P)
REDIRECT = "http://127.0.0.1:53682/callback"
ACCOUNT: dict[str, str] = {'subdomain': 'acme'}


def test_documented_authorize_url() -> None:
    # https://support.zendesk.com/hc/en-us/articles/4408845965210 ("Using OAuth authentication with your
    # application": https://{subdomain}.zendesk.com/oauth/authorizations/new with response_type=code,
    # redirect_uri, client_id, scope (e.g. "read write"), state, code_challenge, code_challenge_method)
    url = P.build_authorize_url(CLIENT, ACCOUNT, redirect_uri=REDIRECT, state="st-1", code_challenge="ch-1",
                                scopes=('read', 'write'))
    endpoint, query = authorize_parts(url)
    assert endpoint == 'https://acme.zendesk.com/oauth/authorizations/new'
    assert query == {
        'client_id': ['kit-client-id'],
        'code_challenge': ['ch-1'],
        'code_challenge_method': ['S256'],
        'redirect_uri': ['http://127.0.0.1:53682/callback'],
        'response_type': ['code'],
        'scope': ['read write'],
        'state': ['st-1'],
    }


def test_documented_code_exchange() -> None:
    # https://developer.zendesk.com/api-reference/ticketing/oauth/grant_type_tokens/ (POST /oauth/tokens, JSON:
    # grant_type=authorization_code, code, client_id, client_secret, redirect_uri, and code_verifier when using
    # PKCE); https://support.zendesk.com/hc/en-us/articles/9182123625370 ("you can also pass expires_in and
    # refresh_token_expires_in parameters to the /oauth/tokens endpoint when utilizing both the
    # authorization_code and refresh_token grant types ... If you set an expiry, it will be applied and
    # enforced"): the first grant asks for the lifetimes every refresh asks for (30 min, 30 days by default).
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
        'expires_in': '1800',
        'refresh_token_expires_in': '2592000',
    }
    assert "Authorization" not in sent.headers  # client_id and client_secret in the body


def test_code_exchange_asks_for_the_configured_lifetimes() -> None:
    # The same lifetimes as the refresh: configured ones, none when set to None, the operator's code_params win.
    configured = ZendeskProvider(access_token_lifetime=3600, refresh_token_lifetime=None)
    request = configured.build_code_request(SecretStr("code-1"), kit_client(configured), ACCOUNT,
                                            redirect_uri=REDIRECT, code_verifier="v" * 43)
    refresh = configured.build_refresh_request(SecretStr("rt-1"), kit_client(configured), ACCOUNT)
    assert request.params["expires_in"] == refresh.params["expires_in"] == "3600"
    assert "refresh_token_expires_in" not in request.params and "refresh_token_expires_in" not in refresh.params
    own = ZendeskProvider(code_params={"expires_in": "900"})
    assert own.code_params == {"expires_in": "900", "refresh_token_expires_in": "2592000"}
