"""``AccountState.load`` (pydantic's one-pass JSON validation, then the secrets decoded) gives what the reference
reading gives — Python's ``json.loads``, the secrets decoded, then ``model_validate`` — for states it wrote, and
refuses what the reference refuses with the same exception, for corrupted text too."""

from __future__ import annotations

import json
import random
from typing import Any

from pydantic import SecretStr

from freshtoken.codec import PlaintextCodec, SecretCodec
from freshtoken.embedded import generate_key
from freshtoken.embedded.crypto import AesGcmCodec
from freshtoken.state import SECRET_FIELDS, AccountState, Status


def reference_load(text: str | bytes, codec: SecretCodec) -> AccountState:
    """How a state was read before the one-pass reading (json.loads, the secrets decoded, then model_validate):
    kept as ``AccountState._load_parsed``, which ``load`` falls back to for text its pass refuses."""
    return AccountState._load_parsed(text, codec)


def outcome(load: Any, text: str | bytes, codec: SecretCodec) -> tuple[Any, Any]:
    try:
        state = load(text, codec)
    except Exception as exc:  # the type of the exception is what is compared
        return None, type(exc)
    fields = {k: (type(v), repr(v) if isinstance(v, float) else v) for k, v in state.__dict__.items()}  # NaN
    return (fields, state.model_fields_set, state.__pydantic_private__), None


def random_state(rng: random.Random) -> AccountState:
    def text() -> str:
        return "".join(rng.choice("ab.-_~é\u2028\U0001f600\"\\\n") for _ in range(rng.randint(1, 10)))

    def secret() -> SecretStr | None:
        return rng.choice([None, SecretStr(text()), SecretStr("r1.2")])

    return AccountState(
        key="t:acme:1", client="acme", account_data=rng.choice([{}, {"site": text()}]),
        status=rng.choice(list(Status)), refresh_token=secret(), previous_refresh_token=secret(),
        access_token=secret(), scope=rng.choice([None, "a b", text()]),
        issued_at=rng.choice([None, 1_800_000_000.0, 1.5, 10**17 + 0.5]), expires_at=rng.choice([None, 1e300, -1.0]),
        extras=rng.choice([{}, {"instance_url": "https://x.example", "n": [1, 2.5, None, {"k": True}]}]),
        generation=rng.randint(0, 10**12), failures=rng.randint(0, 3), last_error=rng.choice([None, text()]),
        alerted_failures=rng.random() < 0.5,
    )


def corrupt(text: str, rng: random.Random) -> str | bytes:
    data = json.loads(text)
    choice = rng.randrange(12)
    if choice == 0:
        i = rng.randrange(len(text))
        return text[:i] + text[i + 1:]  # a character lost
    if choice == 1:
        return text + rng.choice([" ", "\n", "x", "{}"])  # trailing whitespace or data
    if choice == 2:
        return "\ufeff" + text  # a byte order mark
    if choice == 3:
        return text.encode("utf-16")  # bytes in another encoding
    if choice == 4:
        return text.encode("utf-8")
    if choice == 5:
        return text.replace('"generation":', '"generation":1,"generation":', 1)  # a duplicate key
    if choice == 6:
        data[rng.choice(list(data))] = rng.choice([None, 5, 1.5, "x", [], {}, True])  # a wrong type
        return json.dumps(data)
    if choice == 7:
        data[rng.choice(SECRET_FIELDS)] = rng.choice([5, [], "not-a-stored-form", ""])  # a secret of a wrong kind
        return json.dumps(data)
    if choice == 8:
        data["unknown"] = 1
        return json.dumps(data)
    if choice == 9:
        data["expires_at"] = float("nan")
        return json.dumps(data)  # NaN, which Python's JSON writes and reads
    if choice == 10:
        data["last_error"] = "\ud800"  # a lone surrogate
        return json.dumps(data)
    data.pop(rng.choice(["key", "client", "v", "status"]))
    return json.dumps(data)


def test_load_reads_what_the_reference_reads_and_refuses_what_it_refuses() -> None:
    rng = random.Random(17)
    codecs: list[SecretCodec] = [PlaintextCodec(), AesGcmCodec.from_spec(generate_key()).bound("t:acme:1")]
    read = refused = 0
    for i in range(3_000):
        codec = codecs[i % 2]
        text = random_state(rng).dump(codec)
        AccountState.model_validate_json(text)  # what it wrote takes the one-pass reading, not the fallback
        for candidate in (text, corrupt(text, rng)):
            expected = outcome(reference_load, candidate, codec)
            assert outcome(AccountState.load, candidate, codec) == expected, candidate
            read += expected[1] is None
            refused += expected[1] is not None
    assert read > 3_000 and refused > 1_000  # both were exercised


def test_load_under_another_key_raises_what_the_reference_raises() -> None:
    state = AccountState(key="t:acme:1", client="acme", refresh_token=SecretStr("rt-SECRET"))
    text = state.dump(AesGcmCodec.from_spec(generate_key()).bound("t:acme:1"))
    other = AesGcmCodec.from_spec(generate_key()).bound("t:acme:1")
    expected = outcome(reference_load, text, other)
    assert expected[1] is not None and outcome(AccountState.load, text, other) == expected
