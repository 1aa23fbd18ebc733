"""docusign: the authorization side (``freshtoken connect``) replayed against the provider's own documentation.

The kit (``ProviderConformance`` in ``test_docusign.py``) checks the generic rules; these tests pin what the
documentation says, parameter by parameter, for the authorize URL and the code exchange as sent on the wire.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from freshtoken_docusign import DocusignProvider
from pydantic import SecretStr

from freshtoken import ConfigError, Plugins
from freshtoken.testing import code_exchange_on_wire, kit_client

P = DocusignProvider(environment="demo")
CLIENT = kit_client(P)
REDIRECT = "http://127.0.0.1:53682/callback"
ACCOUNT: dict[str, str] = {}


def _query(provider: DocusignProvider, scopes: tuple[str, ...] | None = None) -> tuple[str, dict[str, list[str]]]:
    url = provider.build_authorize_url(kit_client(provider), ACCOUNT, redirect_uri=REDIRECT, state="st-1",
                                       code_challenge="ch-1", scopes=scopes)
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}", parse_qs(parts.query)


def test_documented_authorize_url() -> None:
    # https://developers.docusign.com/platform/auth/reference/obtain-consent ("Obtain consent endpoint":
    # https://account-d.docusign.com/oauth/auth?response_type=CODE_OR_TOKEN&scope=...&client_id=...&state=...
    # &redirect_uri=...; scope "a space-separated list ... When working with the eSignature API, this value
    # should be signature"). https://developers.docusign.com/platform/auth/reference/scopes ("extended": "If you
    # request the extended scope using Authorization Code Grant, a new refresh token is issued with a full
    # lifetime (typically 30 days). Otherwise, the issued refresh token will have the same expiration date as
    # the original token"). PKCE is optional at Docusign ("Optional PKCE code challenge",
    # https://developers.docusign.com/platform/auth/confidential-authcode-get-token).
    endpoint, query = _query(P)
    assert endpoint == "https://account-d.docusign.com/oauth/auth"
    assert query == {
        "client_id": ["kit-client-id"],
        "code_challenge": ["ch-1"],
        "code_challenge_method": ["S256"],
        "redirect_uri": ["http://127.0.0.1:53682/callback"],
        "response_type": ["code"],
        "scope": ["signature extended"],
        "state": ["st-1"],
    }


def test_production_authorizes_on_the_production_account_server() -> None:
    # https://developers.docusign.com/platform/auth/reference ("Endpoints": https://account-d.docusign.com for the
    # development environment, https://account.docusign.com for production); the code goes back to the same one.
    production = DocusignProvider(environment="production")
    endpoint, _ = _query(production)
    assert endpoint == "https://account.docusign.com/oauth/auth"
    assert production.token_endpoint(ACCOUNT) == "https://account.docusign.com/oauth/token"


def test_operator_scopes_keep_extended() -> None:
    # The operator's scopes replace signature, never extended: a grant without it dies ~30 days after login.
    _, query = _query(P, scopes=("signature", "impersonation"))
    assert query["scope"] == ["signature impersonation extended"]


def test_environment_sets_the_authorize_url_itself() -> None:
    # As for token_url: a hand-edited authorize URL next to an environment is refused, naming the field.
    with pytest.raises(ConfigError, match="authorize_url"):
        Plugins().provider("docusign", {"environment": "demo", "authorize_url": "https://account.docusign.com/oauth/auth"})


def test_documented_code_exchange() -> None:
    # https://developers.docusign.com/platform/auth/reference/obtain-access-token ("If you are exchanging an
    # authorization code for an access token ... Content-Type ... must be application/x-www-form-urlencoded";
    # "Authorization: ... your integration key and secret key, concatenated by a colon character, converted
    # into Base64 and prefixed with the word Basic"; grant_type=authorization_code, code).
    request = P.build_code_request(SecretStr("code-1"), CLIENT, ACCOUNT, redirect_uri=REDIRECT,
                                   code_verifier="v" * 43)
    sent = code_exchange_on_wire(request, CLIENT)
    assert sent.url == "https://account-d.docusign.com/oauth/token"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.headers["Authorization"] == "Basic a2l0LWNsaWVudC1pZDpraXQtY2xpZW50LXNlY3JldC03ZjNhOWM="
    assert sent.form == {
        "grant_type": "authorization_code",
        "code": "code-1",
        "redirect_uri": "http://127.0.0.1:53682/callback",
        "code_verifier": "v" * 43,
    }
