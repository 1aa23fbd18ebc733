"""Discord: the kit, and a response with the documented field set.

Source: https://discord.com/developers/docs/topics/oauth2#authorization-code-grant-access-token-response
(access_token, token_type, expires_in, refresh_token, scope), as typed by discord.js's
RESTPostOAuth2AccessTokenResult, which links that section. Values are illustrative.
"""

from freshtoken_discord import DiscordProvider

from freshtoken import TokenSet
from freshtoken.testing import KIT_NOW, ProviderConformance, replay

P = DiscordProvider()


class TestDiscordConformance(ProviderConformance):
    provider = P


def test_documented_access_token_response() -> None:
    tokens = replay(P, 200, {"access_token": "6qrZcUqja7812RVdnEKjpzOL4CvHBFG", "token_type": "Bearer",
                             "expires_in": 604800, "refresh_token": "D43f5y0ahjqew82jZ4NViEr2YafMKhue",
                             "scope": "identify"})
    assert isinstance(tokens, TokenSet) and tokens.expires_at == KIT_NOW + 604800
    assert tokens.scope == "identify" and tokens.refresh_token is not None
