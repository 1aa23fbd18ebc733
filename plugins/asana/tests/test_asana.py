"""Asana: the kit against the documented endpoints.

Source: https://developers.asana.com/docs/oauth ("Quick reference": authorize, token exchange and revoke
endpoints; the authorization code grant). The documented response body is replayed in test_asana_replay.py;
no error body is documented, so the kit's RFC-shaped error scenarios are used.
"""

from freshtoken_asana import AsanaProvider

from freshtoken.testing import ProviderConformance

P = AsanaProvider()


class TestAsanaConformance(ProviderConformance):
    provider = P


def test_documented_endpoints() -> None:
    assert P.token_endpoint({}) == "https://app.asana.com/-/oauth_token"
    assert P.revocation_endpoint({}) == "https://app.asana.com/-/oauth_revoke"
    assert P.authorization_endpoint({}) == "https://app.asana.com/-/oauth_authorize"
