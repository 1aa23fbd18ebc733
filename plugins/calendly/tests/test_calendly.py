"""Calendly: the kit, and the documented token response (``created_at``, ``owner``, ``organization``).

Sources:
* the response fields (access_token, refresh_token, token_type Bearer, scope, expires_in, created_at, owner,
  organization): Calendly's API reference, "Get access token", https://calendly-preview.mintlify.app/api-reference/auth/oauth/get-access-token
* 2-hour access tokens, refresh tokens that do not expire until used:
  https://developer.calendly.com/how-to-access-calendly-data-on-behalf-of-authenticated-users
* single-use refresh tokens: https://developer.calendly.com/refresh-token-rotation-guide
Values are illustrative; the field set is the documented one.
"""

from freshtoken_calendly import CalendlyProvider

from freshtoken import TokenSet
from freshtoken.testing import KIT_NOW, ProviderConformance, replay

P = CalendlyProvider()
DOCUMENTED_FIELDS = {"access_token": "eyJraWQiOiIxY2UxZTEzNjE3ZGNm", "refresh_token": "b77a76ffce83d3bc0de3",
                     "token_type": "Bearer", "scope": "default", "expires_in": 7200, "created_at": 1548689183,
                     "owner": "https://api.calendly.com/users/EBHAAFHDCAEQTSEZ",
                     "organization": "https://api.calendly.com/organizations/EBHAAFHDCAEQTSEZ"}


class TestCalendlyConformance(ProviderConformance):
    provider = P
    lifetime = 7200


def test_documented_token_response() -> None:
    tokens = replay(P, 200, DOCUMENTED_FIELDS)
    assert isinstance(tokens, TokenSet) and tokens.expires_at == KIT_NOW + 7200
    assert tokens.extras == {"owner": "https://api.calendly.com/users/EBHAAFHDCAEQTSEZ",
                             "organization": "https://api.calendly.com/organizations/EBHAAFHDCAEQTSEZ"}
