"""The request path's short cuts give the answers of the long way round.

* The judge's no-cache path (the record parsed in place, the clock checked) answers exactly what the full
  parse (``json.loads`` and every check) followed by the clock check answers, over generated records of every
  shape: v1 as the SDK writes it and reordered/spaced, v2 reasons, expired and nearly expired tokens, unknown
  versions, damaged text. The cached judges (a fixed size, and the default automatic cache) answer the same,
  twice.
* The SQLite readers keep one cursor per thread between reads: every read still sees the last committed
  write (no read transaction, hence no old snapshot, survives a read), in each thread, and after ``close()``.
Real SQLite files, real threads; time is given, not read.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freshtoken import KVRecord, ManualClock, TokenReader
from freshtoken.embedded import SQLiteKV
from freshtoken.record import reason_record
from freshtoken_reader import Judge, Reader, Reading, Reason, ReasonRecord, SQLiteSource, Token

from .test_records import full

NOW = 1_800_000_000


def reference(text: str, now: float, min_remaining: float) -> tuple[Reason, Token | None]:
    """The long way round: the full parse (no fast path), then the clock check."""
    record = full(text)
    if record == "InvalidRecord":
        return Reason.UNSUPPORTED_VERSION, None
    if isinstance(record, ReasonRecord):
        return record.reason, None
    assert isinstance(record, Token)
    if record.expires_at is None or record.expires_at - now >= min_remaining:
        return Reason.OK, record
    return Reason.EXPIRED, None


texts = st.text(st.characters(codec="utf-8"), max_size=12)
tokens = st.builds(
    KVRecord.model_construct,  # the SDK's layout, unchecked: tokens a header cannot carry are among them
    access_token=texts.filter(bool) | st.text("abcXYZ.-_", min_size=1, max_size=900),
    token_type=st.sampled_from(["Bearer", "MAC", ""]) | texts,
    expires_at=st.none() | st.integers(NOW - 100, NOW + 100) | st.integers(0, 2**40),
    scope=st.none() | st.sampled_from(["email profile", ""]) | texts,
    generation=st.integers(0, 2**40),
    refreshed_at=st.integers(0, 2**40),
    extras=st.just({}) | st.dictionaries(st.text(max_size=4), st.integers() | st.text(max_size=4), max_size=2),
).map(KVRecord.dumps)


@st.composite
def rewritten(draw: st.DrawFn) -> str:
    """A v1 record as another writer might write it: other key order, spaces, escapes."""
    raw = json.loads(draw(tokens))
    keys = draw(st.permutations(list(raw)))
    return json.dumps({k: raw[k] for k in keys}, ensure_ascii=draw(st.booleans()),
                      separators=draw(st.sampled_from([(",", ":"), (", ", ": ")])))


reasons = st.builds(reason_record, st.sampled_from(["reauth_required", "refresh_failing", "misconfigured"]),
                    generation=st.integers(0, 2**40), since=st.integers(0, 2**40))
others = st.sampled_from([
    '{"v":3,"access_token":"SECRET","expires_at":null}', '{"v":"1","access_token":"x"}', "[]", "{", "",
    '{"v":1}', '{"v":2,"status":"suspended","generation":1,"since":1}', "null",
    '{"v":1,"access_token":"","token_type":"Bearer","expires_at":1,"scope":null,"generation":1,'
    '"refreshed_at":1,"extras":{}}',
])


@st.composite
def damaged(draw: st.DrawFn) -> str:
    text = draw(tokens | reasons)
    at = draw(st.integers(0, len(text)))
    junk = draw(st.sampled_from(['"', "\\", "\x01", "\x1f", " ", "}", "{", "0", ",", "-", "1e3", "é", "null"]))
    return draw(st.sampled_from([text[:at] + junk + text[at:], text[:at] + text[at + 1:]]))


records = tokens | rewritten() | reasons | others | damaged()


@settings(max_examples=1500, deadline=None)
@given(records, st.integers(-150, 150), st.sampled_from([0.0, 5.0, 30.0]))
def test_the_judge_answers_what_the_full_parse_answers(text: str, offset: int, min_remaining: float):
    now = _expires_at(text) + offset + 0.5  # around the token's expiry: ok, too little left, expired
    want_reason, want_token = reference(text, now, min_remaining)
    plain = Judge(min_remaining=min_remaining, cache_size=0)
    cached = Judge(min_remaining=min_remaining, cache_size=8)
    auto = Judge(min_remaining=min_remaining)  # the default: the automatic cache
    for reading in (plain.judge("k", text, now), cached.judge("k", text, now), cached.judge("k", text, now),
                    auto.judge("k", text, now), auto.judge("k", text, now)):
        assert (reading.reason, reading.token) == (want_reason, want_token)
        assert reading.ok is (want_reason is Reason.OK)
        assert (reading.token is None) is (want_reason is not Reason.OK)
        if reading.token is not None:  # the token handed out is the whole record, field for field
            assert reading.token.as_dict() == json.loads(text)
            assert reading.token.authorization == f"{want_token.token_type} {want_token.access_token}"  # type: ignore[union-attr]


def _expires_at(text: str) -> int:
    try:
        raw = json.loads(text)
    except ValueError:
        return NOW
    expires = raw.get("expires_at") if isinstance(raw, dict) else None
    return expires if type(expires) is int else NOW


def test_a_reading_never_shows_the_token():
    text = KVRecord(access_token="tok-SECRET-" + "x" * 800, expires_at=NOW + 3600, generation=1,
                    refreshed_at=NOW).dumps()
    reading = Judge().judge("k", text, NOW)
    assert reading.ok and reading.token is not None and reading.token.access_token.startswith("tok-SECRET-")
    for shown in (repr(reading), str(reading), repr(reading.token), f"{reading}"):
        assert "tok-SECRET" not in shown


# -- the SQLite readers: one cursor per thread, never an old snapshot -------------------------------------------
def token(at: str, generation: int, expires_at: int = NOW + 3600) -> str:
    return KVRecord(access_token=at, expires_at=expires_at, generation=generation, refreshed_at=NOW).dumps()


def answers(light: Reader, sdk: TokenReader, gateway_kv: SQLiteKV, key: str) -> list[tuple[str, str | None]]:
    """What the light reader, the SDK's sync path and its async path say (reason, token) for ``key``."""
    import asyncio

    def pair(reading: Reading) -> tuple[str, str | None]:
        return reading.reason.value, None if reading.token is None else reading.token.access_token

    return [pair(light.read(key)), pair(sdk.judge(key, gateway_kv.get_sync(key))), pair(asyncio.run(sdk.read(key)))]


def test_sqlite_readers_see_every_committed_write_between_reads(tmp_path: Path):
    path = tmp_path / "kv.db"
    clock = ManualClock(NOW)
    writer = SQLiteKV(path, clock=clock)
    writer.put_sync("t:p:a", token("AT-1", 1), 7200)
    gateway_kv = SQLiteKV(path, clock=clock, readonly=True)
    light = Reader(SQLiteSource(path), clock=clock.now, min_remaining=30)
    sdk = TokenReader(gateway_kv, clock=clock, min_remaining=30)
    steps = [
        (lambda: None, ("ok", "AT-1")),
        (lambda: writer.put_sync("t:p:a", token("AT-2", 2), 7200), ("ok", "AT-2")),
        (lambda: writer.put_sync("t:p:a", reason_record("reauth_required", generation=2, since=NOW), None),
         ("reauth_required", None)),
        (lambda: writer.put_sync("t:p:a", token("AT-3", 3), 7200), ("ok", "AT-3")),
        (lambda: clock.advance(3600 - 10), ("expired", None)),  # 10 s left: less than 30
        (lambda: writer.put_sync("t:p:a", token("AT-4", 4, NOW + 7200), 3600), ("ok", "AT-4")),
        (lambda: asyncio_delete(writer, "t:p:a"), ("unknown", None)),
        (lambda: writer.put_sync("t:p:a", token("AT-5", 5, NOW + 9000), 60), ("ok", "AT-5")),
    ]
    for i, (write, want) in enumerate(steps):
        write()
        for _ in range(3):  # the same answer on every read, from every reader
            assert answers(light, sdk, gateway_kv, "t:p:a") == [want] * 3, f"step {i}"
    # the row's own TTL (60 s) passes before the token's expiry: SQLiteKV hides the row (unknown); the light
    # source reads the value column only and judges the record itself (the token still has time left)
    clock.advance(61)
    assert gateway_kv.get_sync("t:p:a") is None and light.read("t:p:a").token.access_token == "AT-5"  # type: ignore[union-attr]
    writer.put_sync("t:p:a", token("AT-6", 6, NOW + 9000), 3600)
    assert answers(light, sdk, gateway_kv, "t:p:a") == [("ok", "AT-6")] * 3
    # close, then read again: a new connection and cursor, the current value
    light.source.close()  # type: ignore[attr-defined]
    gateway_kv.close()
    writer.put_sync("t:p:a", token("AT-7", 7, NOW + 9000), 3600)
    assert answers(light, sdk, gateway_kv, "t:p:a") == [("ok", "AT-7")] * 3
    writer.close()
    gateway_kv.close()


def asyncio_delete(kv: SQLiteKV, key: str) -> None:
    import asyncio

    asyncio.run(kv.delete(key))


def test_sqlite_readers_in_threads_each_see_the_writes(tmp_path: Path):
    path = tmp_path / "kv.db"
    writer = SQLiteKV(path)
    keys = [f"t:p:{i}" for i in range(20)]
    for i, k in enumerate(keys):
        writer.put_sync(k, token(f"AT-{i}-1", 1, 4_000_000_000), None)
    gateway_kv = SQLiteKV(path, readonly=True)
    light = Reader(SQLiteSource(path))
    sdk = TokenReader(gateway_kv)
    rounds: list[threading.Barrier] = [threading.Barrier(5) for _ in range(6)]
    seen: dict[tuple[int, int], list[str | None]] = {}
    errors: list[BaseException] = []

    def read(t: int) -> None:
        try:
            for r, barrier in enumerate(rounds):
                barrier.wait(timeout=60)  # the writer has written round r
                got = []
                for k in keys:
                    a = light.read(k).token
                    b = sdk.judge(k, gateway_kv.get_sync(k)).token
                    got += [None if a is None else a.access_token, None if b is None else b.access_token]
                seen[(t, r)] = got
                barrier.wait(timeout=60)  # done reading round r
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=read, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for r, barrier in enumerate(rounds):
        if r:
            for i, k in enumerate(keys):
                writer.put_sync(k, token(f"AT-{i}-{r + 1}", r + 1, 4_000_000_000), None)
        barrier.wait(timeout=60)
        barrier.wait(timeout=60)
    for t in threads:
        t.join(timeout=60)
    assert not errors
    for (t, r), got in seen.items():
        assert got == [tok for i in range(len(keys)) for tok in [f"AT-{i}-{r + 1}"] * 2], (t, r)
    assert len(seen) == 4 * len(rounds)
    writer.close()
    gateway_kv.close()


def test_reader_takes_any_callable_source():
    text = token("AT-1", 1)
    store = {"k": text}

    class Source:
        def __call__(self, key: str) -> str | None:
            return store.get(key)

    for source in (store.get, lambda key: store.get(key), Source()):
        reader = Reader(source, clock=lambda: float(NOW))
        assert reader.read("k").token.access_token == "AT-1"  # type: ignore[union-attr]
        assert reader.read("missing").reason is Reason.UNKNOWN
        assert reader.authorization("k") == "Bearer AT-1"


async def test_the_async_reader_awaits_a_get_that_a_subclass_overrides(tmp_path: Path) -> None:
    """The async read calls ``get_sync`` directly only for a KV whose ``get`` declares it merely wraps it; a
    subclass that overrides ``get`` (a wrapper, a fault injector) is awaited as written."""
    class Refusing(SQLiteKV):
        async def get(self, key: str) -> str | None:
            raise ConnectionError("the KV is down")

    plain = SQLiteKV(tmp_path / "plain.db")
    refusing = Refusing(tmp_path / "refusing.db")
    record = KVRecord(access_token="tok", expires_at=int(time.time()) + 3600, generation=1, refreshed_at=1).dumps()
    for kv in (plain, refusing):
        await kv.put("t:p:a", record, None)
    assert (await TokenReader(plain).read("t:p:a")).token is not None
    assert (await TokenReader(plain).get("t:p:a")).access_token == "tok"
    with pytest.raises(ConnectionError):
        await TokenReader(refusing).read("t:p:a")
    with pytest.raises(ConnectionError):
        await TokenReader(refusing).get("t:p:a")


def test_sqlite_kv_reads_the_ttl_against_its_clock_even_one_set_later(tmp_path: Path):
    """``SQLiteKV.get_sync`` checks the row's TTL against the KV's clock, also one assigned after it was opened (a
    read path that bound the clock's ``now`` once would miss it)."""
    kv = SQLiteKV(tmp_path / "kv.db", clock=ManualClock(NOW))
    kv.put_sync("k", token("AT", 1), 60)
    assert kv.get_sync("k") is not None
    kv.clock = ManualClock(NOW + 61)
    assert kv.get_sync("k") is None  # the row's TTL has passed on the new clock
    kv.clock = ManualClock(NOW)
    assert kv.get_sync("k") is not None
    kv.close()
