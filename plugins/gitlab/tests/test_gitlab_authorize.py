"""gitlab: the authorization side (``freshtoken connect``) replayed against the provider's own documentation.

The kit (``ProviderConformance`` in ``test_gitlab.py``) checks the generic rules; these tests pin what the
documentation says, parameter by parameter, for the authorize URL and the code exchange as sent on the wire.
Source: https://docs.gitlab.com/api/oauth2/ ("Authorization code with Proof Key for Code Exchange (PKCE)").
"""

from __future__ import annotations

import pytest
from freshtoken_gitlab import GitLabProvider
from pydantic import SecretStr

from freshtoken import InvalidAccountData
from freshtoken.testing import authorize_parts, code_exchange_on_wire, kit_client

P = GitLabProvider(allowed_hosts=("gitlab.com", "gitlab.example.com"))
CLIENT = kit_client(P)
REDIRECT = "http://127.0.0.1:53682/callback"


@pytest.mark.parametrize("host", ["gitlab.com", "gitlab.example.com"])
def test_documented_authorize_url(host: str) -> None:
    # "Request authorization code": https://gitlab.example.com/oauth/authorize?client_id=APP_ID
    # &redirect_uri=REDIRECT_URI&response_type=code&state=STATE&scope=REQUESTED_SCOPES
    # &code_challenge=CODE_CHALLENGE&code_challenge_method=S256 (scopes space-separated, e.g. api read_user).
    url = P.build_authorize_url(CLIENT, {"host": host}, redirect_uri=REDIRECT, state="st-1", code_challenge="ch-1",
                                scopes=("api", "read_user"))
    endpoint, query = authorize_parts(url)
    assert endpoint == f"https://{host}/oauth/authorize"
    assert query == {
        "client_id": ["kit-client-id"],
        "code_challenge": ["ch-1"],
        "code_challenge_method": ["S256"],
        "redirect_uri": ["http://127.0.0.1:53682/callback"],
        "response_type": ["code"],
        "scope": ["api read_user"],
        "state": ["st-1"],
    }


def test_authorize_url_only_on_allowed_hosts() -> None:
    # The instance is account data: a host the operator did not allow gets no authorization URL (the user would
    # hand their consent, and the exchange the client secret, to an arbitrary server).
    with pytest.raises(InvalidAccountData, match="allowed_hosts"):
        P.authorization_endpoint({"host": "gitlab.evil.example"})


def test_documented_code_exchange() -> None:
    # "parameters = 'client_id=APP_ID&client_secret=APP_SECRET&code=RETURNED_CODE&grant_type=authorization_code
    # &redirect_uri=REDIRECT_URI&code_verifier=CODE_VERIFIER'", POST https://gitlab.example.com/oauth/token.
    account = {"host": "gitlab.example.com"}
    request = P.build_code_request(SecretStr("code-1"), CLIENT, account, redirect_uri=REDIRECT,
                                   code_verifier="v" * 43)
    sent = code_exchange_on_wire(request, CLIENT)
    assert sent.url == "https://gitlab.example.com/oauth/token"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.form == {
        "client_id": "kit-client-id",
        "client_secret": "kit-client-secret-7f3a9c",
        "code": "code-1",
        "grant_type": "authorization_code",
        "redirect_uri": "http://127.0.0.1:53682/callback",
        "code_verifier": "v" * 43,
    }
    assert "Authorization" not in sent.headers
