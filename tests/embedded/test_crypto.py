from __future__ import annotations

import base64

import pytest

from freshtoken import ConfigError
from freshtoken.embedded import AesGcmCodec, DecryptionError, generate_key, parse_keys
from freshtoken.storage import SecretCodec

SECRET = "rt-very-secret-refresh-token-0123456789"


def test_round_trip_and_format() -> None:
    codec = AesGcmCodec.from_spec(generate_key("main"))
    assert isinstance(codec, SecretCodec)
    stored = codec.encode(SECRET)
    version, kid, nonce, _ct = stored.split(".")
    assert (version, kid) == ("v1", "main")
    assert len(base64.urlsafe_b64decode(nonce + "==")) == 12
    assert SECRET not in stored
    assert codec.decode(stored) == SECRET
    assert codec.encode(SECRET) != stored  # fresh nonce every time
    assert AesGcmCodec.kid_of(stored) == "main"


def test_unicode_and_empty() -> None:
    codec = AesGcmCodec.from_spec(generate_key())
    for value in ("", "ünïcødé-🔑", "x" * 5000):
        assert codec.decode(codec.encode(value)) == value


def test_associated_data_binds_the_account() -> None:
    codec = AesGcmCodec.from_spec(generate_key())
    a, b = codec.bound("t:p:alice"), codec.bound("t:p:bob")
    stored = a.encode(SECRET)
    assert a.decode(stored) == SECRET
    with pytest.raises(DecryptionError, match="tampered or moved"):
        b.decode(stored)
    with pytest.raises(DecryptionError):
        codec.decode(stored)


def test_rotation_first_encrypts_all_decrypt() -> None:
    old_spec, new_spec = generate_key("old"), generate_key("new")
    old = AesGcmCodec.from_spec(old_spec)
    stored_old = old.encode(SECRET)
    rotated = AesGcmCodec.from_spec(f"{new_spec},{old_spec}")
    assert rotated.primary_kid == "new"
    assert rotated.decode(stored_old) == SECRET
    assert AesGcmCodec.kid_of(rotated.encode(SECRET)) == "new"
    new_only = AesGcmCodec.from_spec(new_spec)
    with pytest.raises(DecryptionError, match="'old', which is not in FRESHTOKEN_ENCRYPTION_KEYS"):
        new_only.decode(stored_old)


def test_wrong_key_same_kid_and_tampering() -> None:
    a = AesGcmCodec.from_spec(generate_key("k"))
    b = AesGcmCodec.from_spec(generate_key("k"))
    stored = a.encode(SECRET)
    with pytest.raises(DecryptionError):
        b.decode(stored)
    v, kid, nonce, ct = stored.split(".")
    flipped = ct[:-2] + ("A" if ct[-2] != "A" else "B") + ct[-1]
    with pytest.raises(DecryptionError):
        a.decode(".".join((v, kid, nonce, flipped)))
    for junk in ("plaintext-token", "v2.k.a.b", "v1.k.!!.??", ""):
        with pytest.raises(DecryptionError):
            a.decode(junk)


def test_from_env_missing_is_a_clear_config_error() -> None:
    with pytest.raises(ConfigError, match=r"FRESHTOKEN_ENCRYPTION_KEYS is not set.*plaintext"):
        AesGcmCodec.from_env({})
    with pytest.raises(ConfigError, match="not set"):
        AesGcmCodec.from_env({"FRESHTOKEN_ENCRYPTION_KEYS": "   "})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nokid", "not of the form"),
        ("k1:" + base64.urlsafe_b64encode(b"short").decode(), "is 5 bytes"),
        ("k1:***", "not valid base64url"),
        ("bad kid:" + base64.urlsafe_b64encode(b"x" * 32).decode(), "key id must be"),
        (",", "empty"),
    ],
)
def test_from_env_invalid(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        AesGcmCodec.from_env({"FRESHTOKEN_ENCRYPTION_KEYS": spec})
    assert "***" not in str(info.value) or message == "not valid base64url"


def test_duplicate_kid_and_no_key_material_in_errors_or_repr() -> None:
    spec = generate_key("dup")
    material = spec.split(":", 1)[1]
    with pytest.raises(ConfigError, match="appears twice") as info:
        parse_keys(f"{spec},{spec}")
    assert material not in str(info.value)
    codec = AesGcmCodec.from_spec(spec)
    assert material not in repr(codec)
    assert "dup" in repr(codec)


def test_from_env_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = generate_key("envkey")
    monkeypatch.setenv("FRESHTOKEN_ENCRYPTION_KEYS", f" {spec} , {generate_key('older')} ")
    codec = AesGcmCodec.from_env()
    assert codec.kids == ["envkey", "older"]


def test_generate_key_is_valid_and_random() -> None:
    a, b = generate_key(), generate_key()
    assert a != b
    (kid, key), = parse_keys(a)
    assert len(key) == 32 and kid.startswith("k")
    with pytest.raises(ConfigError):
        generate_key("has space")
