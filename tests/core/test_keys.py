import pytest

from freshtoken import AccountKey, InvalidAccountKey
from freshtoken.keys import MAX_KEY_BYTES


def test_round_trip_and_colon_in_account_id():
    key = AccountKey.parse("acme:google:user:with:colons")
    assert (key.tenant, key.provider, key.account_id) == ("acme", "google", "user:with:colons")
    assert str(key) == "acme:google:user:with:colons"


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("acme:google", "not of the form"),
        (":google:u1", "tenant is empty"),
        ("acme::u1", "provider is empty"),
        ("acme:google:", "account_id is empty"),
        ("ac\x00me:google:u1", "control character"),
        ("acme:goo\ngle:u1", "control character"),
        ("acme:google:u\u200b1", "control character"),
        (" acme:google:u1", "white space"),
    ],
)
def test_invalid_keys_name_the_problem(text, fragment):
    with pytest.raises(InvalidAccountKey, match=fragment):
        AccountKey.parse(text)


def test_colon_in_tenant_refused_when_built_from_parts():
    with pytest.raises(InvalidAccountKey, match="tenant 'a:b' must not contain ':'"):
        AccountKey("a:b", "google", "u1")


def test_kv_key_limit_counts_utf8_bytes():
    ok = "a:b:" + "x" * (MAX_KEY_BYTES - 4)
    assert AccountKey.parse(ok)
    with pytest.raises(InvalidAccountKey, match=r"512 bytes"):
        AccountKey.parse("a:b:" + "é" * 255)


def test_non_string_refused():
    with pytest.raises(InvalidAccountKey, match="must be a string"):
        AccountKey.parse(42)  # type: ignore[arg-type]
