"""Box: the kit, plus the documented token object (single-use refresh token, rotated) and errors."""

from freshtoken_box import BoxProvider

from freshtoken import ReauthRequired, TokenSet
from freshtoken.testing import KIT_NOW, ProviderConformance, replay

P = BoxProvider()


class TestBoxConformance(ProviderConformance):
    provider = P


def test_documented_token_object_rotates() -> None:
    tokens = replay(P, 200, {
        "access_token": "c3FIOG9vSGV4VHo4QzAyg5T1JvNnJoZ3ExaVNyQWw6WjRsanRKZG5lQk9qUE1BVQ",
        "expires_in": 3600, "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "refresh_token": "new-c3FIOG9vSGV4VHo4QzAyg5T1JvNnJoZ3ExaVNyQWw6WjRsanRKZG5lQk9qUE1BVQ",
        "restricted_to": [{"scope": "item_download", "object": {"id": 42342342, "type": "folder"}}],
        "token_type": "bearer",
    })
    assert isinstance(tokens, TokenSet)
    assert tokens.expires_at == KIT_NOW + 3600
    assert tokens.refresh_token is not None and tokens.refresh_token.get_secret_value().startswith("new-")


def test_documented_expired_refresh_token() -> None:
    body = {"error": "invalid_grant", "error_description": "Refresh token has expired"}
    assert isinstance(replay(P, 400, body), ReauthRequired)
