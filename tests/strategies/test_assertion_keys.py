"""The client's signing key: parsed once per key text (parsing an RSA key costs ~170 ms, a signature ~3 ms:
``python bench/assertion_cost.py``), a rotated key taken at once, a bad one refused naming
the client and never the key."""

from __future__ import annotations

import json

import pytest

from freshtoken import Misconfigured, OAuthClient
from freshtoken.strategies import assertion

from .conftest import KeyPair


def client(key: str) -> OAuthClient:
    return OAuthClient(name="svc", provider="generic", client_id="svc", private_key=key)


def test_a_key_is_parsed_once_and_a_rotated_key_is_used_at_once(keys: tuple[KeyPair, KeyPair],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    real = assertion._parse
    monkeypatch.setattr(assertion, "_PARSED", {})
    monkeypatch.setattr(assertion, "_parse", lambda c: parsed.append(c.name) or real(c))
    first = assertion.signing_key(client(keys[0].private_pem))
    assert assertion.signing_key(client(keys[0].private_pem)) is first and parsed == ["svc"]
    rotated = assertion.signing_key(client(keys[1].private_pem))
    assert rotated is not first and parsed == ["svc", "svc"]


def test_key_files_and_bad_keys(keys: tuple[KeyPair, KeyPair]) -> None:
    sa = json.dumps({"type": "service_account", "private_key": keys[0].private_pem, "private_key_id": "kid-7"})
    assert assertion.signing_key(client(sa)).kid == "kid-7"
    for bad in ("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----", '{"private_key": 3}', "{nope"):
        with pytest.raises(Misconfigured) as refused:
            assertion.signing_key(client(bad))
        assert "'svc'" in str(refused.value) and "not a key" not in str(refused.value)
