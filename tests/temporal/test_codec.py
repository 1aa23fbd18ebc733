"""The encrypting payload codec: same key handling as the embedded runtime (rotation, errors without secrets)."""

from __future__ import annotations

import pytest
from temporalio.api.common.v1 import Payload

from freshtoken.embedded import DecryptionError, generate_key
from freshtoken.errors import ConfigError
from freshtoken.temporal.codec import ENCODING, EncryptionCodec, data_converter


def payload(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=text.encode())


async def test_round_trip_and_nothing_readable():
    codec = EncryptionCodec.from_spec(generate_key("k1"))
    [enc] = await codec.encode([payload('{"refresh_token": "rt-secret-value"}')])
    assert enc.metadata["encoding"] == ENCODING and enc.metadata["encryption-key-id"] == b"k1"
    assert b"rt-secret-value" not in enc.SerializeToString()
    [dec] = await codec.decode([enc])
    assert dec == payload('{"refresh_token": "rt-secret-value"}')


async def test_rotation_first_key_encrypts_every_key_decrypts():
    old, new = generate_key("old"), generate_key("new")
    [enc_old] = await EncryptionCodec.from_spec(old).encode([payload("x")])
    rotated = EncryptionCodec.from_spec(f"{new},{old}")
    assert (await rotated.decode([enc_old]))[0].data == b"x"
    [enc_new] = await rotated.encode([payload("y")])
    assert enc_new.metadata["encryption-key-id"] == b"new"
    with pytest.raises(DecryptionError, match="'new'"):
        await EncryptionCodec.from_spec(old).decode([enc_new])


async def test_tampered_or_wrong_key_is_refused_and_plain_payloads_pass():
    a = EncryptionCodec.from_spec(generate_key("k1"))
    b = EncryptionCodec.from_spec(generate_key("k1"))
    [enc] = await a.encode([payload("x")])
    with pytest.raises(DecryptionError):
        await b.decode([enc])
    enc.data = enc.data[:-1] + bytes([enc.data[-1] ^ 1])
    with pytest.raises(DecryptionError):
        await a.decode([enc])
    assert (await a.decode([payload("plain")]))[0].data == b"plain"


def test_missing_or_bad_keys_are_config_errors_naming_no_material():
    with pytest.raises(ConfigError, match="FRESHTOKEN_ENCRYPTION_KEYS is not set"):
        EncryptionCodec.from_env({})
    with pytest.raises(ConfigError, match="32"):
        EncryptionCodec.from_env({"FRESHTOKEN_ENCRYPTION_KEYS": "k1:AAAA"})
    spec = generate_key("k1")
    codec = EncryptionCodec.from_env({"FRESHTOKEN_ENCRYPTION_KEYS": spec})
    assert spec.split(":")[1] not in repr(codec)
    assert data_converter(codec).payload_codec is codec
