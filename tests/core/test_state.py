from pydantic import SecretStr

from freshtoken import AccountState


class CountingCodec:
    """Reversible, keyed: 'k<kid>:<plaintext reversed>'."""

    def __init__(self, kid: str) -> None:
        self.kid, self.encodes = kid, 0

    def encode(self, plaintext: str) -> str:
        self.encodes += 1
        return f"k{self.kid}:{plaintext[::-1]}"

    def decode(self, stored: str) -> str:
        return stored.split(":", 1)[1][::-1]

    def reusable(self, stored: str) -> bool:
        return stored.startswith(f"k{self.kid}:")


def test_unchanged_secrets_are_not_encrypted_again_but_changed_ones_and_new_keys_are():
    codec = CountingCodec("1")
    state = AccountState(key="a:b:c", client="x", refresh_token=SecretStr("rt-1"), access_token=SecretStr("at-1"))
    text = state.dump(codec)
    assert codec.encodes == 2 and "rt-1" not in text
    loaded = AccountState.load(text, codec)
    loaded.failures += 1
    loaded.dump(codec)
    assert codec.encodes == 2  # nothing secret changed
    loaded.previous_refresh_token, loaded.refresh_token = loaded.refresh_token, SecretStr("rt-2")
    loaded.dump(codec)
    assert codec.encodes == 3  # only the new refresh token; the old one keeps its stored form
    rotated = CountingCodec("2")
    again = AccountState.load(loaded.dump(codec), codec).dump(rotated)
    assert rotated.encodes == 3 and "k1:" not in again  # a new primary key re-encrypts all three


def test_public_view_has_no_secret():
    state = AccountState(key="a:b:c", client="x", refresh_token=SecretStr("rt-1"), access_token=SecretStr("at-1"))
    view = state.public()
    assert "rt-1" not in str(view) and "at-1" not in str(view) and view["has_refresh_token"]
