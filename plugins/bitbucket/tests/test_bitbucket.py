"""Bitbucket: the kit (Basic auth), and the refresh response Bitbucket's team posted.

Sources:
* endpoints, Basic client authentication: https://developer.atlassian.com/cloud/bitbucket/oauth-2
* the refresh response (``scopes``, ``expires_in`` 7200), posted and confirmed by the Bitbucket Cloud team:
  https://community.developer.atlassian.com/t/oauth2-token-lifetime-expiration-clarification/22136
* rotation on every use, 3 months unused, ``scope`` instead of ``scopes``:
  https://community.developer.atlassian.com/t/oauth-2-0-and-api-authentication-changes-for-bitbucket-cloud/99003
"""

from freshtoken_bitbucket import BitbucketProvider

from freshtoken import TokenSet
from freshtoken.testing import KIT_NOW, ProviderConformance, replay

P = BitbucketProvider()
POSTED = {"access_token": "my-new-token", "scopes": "my scopes here", "expires_in": 7200,
          "refresh_token": "my-refresh-token", "token_type": "bearer"}


class TestBitbucketConformance(ProviderConformance):
    provider = P
    lifetime = 7200


def test_posted_refresh_response_and_its_scopes() -> None:
    tokens = replay(P, 200, POSTED)
    assert isinstance(tokens, TokenSet) and tokens.expires_at == KIT_NOW + 7200
    assert tokens.scope == "my scopes here" and tokens.refresh_token is not None
    renamed = replay(P, 200, {**{k: v for k, v in POSTED.items() if k != "scopes"}, "scope": "repository"})
    assert isinstance(renamed, TokenSet) and renamed.scope == "repository"
