"""Figma: the kit against the separate refresh endpoint, and the code exchange at the token endpoint.

No documented response body was found on Figma's own pages (developers.figma.com/docs/rest-api/
authentication describes OAuth apps, not the bodies), so no replay is shipped: the kit's RFC-shaped
scenarios are the only responses these tests use.
"""

from freshtoken_figma import FigmaProvider
from pydantic import SecretStr

from freshtoken.testing import ProviderConformance, kit_client

P = FigmaProvider()


class TestFigmaConformance(ProviderConformance):
    provider = P
    code_endpoint = "https://api.figma.com/v1/oauth/token"  # codes there, refreshes at /v1/oauth/refresh


def test_refresh_and_code_exchange_use_different_endpoints() -> None:
    client = kit_client(P)
    refresh = P.build_refresh_request(SecretStr("rt"), client, {})
    assert refresh.url == "https://api.figma.com/v1/oauth/refresh"
    code = P.build_code_request(SecretStr("code"), client, {}, redirect_uri="https://app.example/cb",
                                code_verifier=None)
    assert code.url == "https://api.figma.com/v1/oauth/token"
    assert code.params["grant_type"] == "authorization_code"
