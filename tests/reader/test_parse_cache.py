"""The readers' parse cache never answers from a record that is no longer the one in KV.

Every Python reader (the light ``Reader``, the SDK's ``TokenReader``) judges through
:class:`freshtoken_reader.Judge`, which by default keeps each key's reading with the text it came from
(``cache_size=None``: automatic). The adversary here is a KV whose records change under the reader: a refresh
(a new token, same length), a revocation (a ``reauth_required`` record), a removal, a damaged record, the same
text under another key, and a set of keys too large for the cache. After every read the answer must be what a
reader with no cache answers for the same text at the same time; a token for a removed key must not stay in
the process. Time is given, not read.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freshtoken import KVRecord, ManualClock, TokenReader
from freshtoken.kv import MemoryKV
from freshtoken.record import reason_record
from freshtoken_reader import Judge, Reader, Reason
from freshtoken_reader.reader import AUTO_CACHE_KEYS, CACHE_PAUSE

NOW = 1_800_000_000


def token(at: str, generation: int = 1, expires_at: int = NOW + 3600) -> str:
    # unchecked, as another writer (or a tampered file) could write it: tokens no header can carry among them
    return KVRecord.model_construct(access_token=at, token_type="Bearer", expires_at=expires_at, scope=None,
                                    generation=generation, refreshed_at=NOW, extras={}).dumps()


REVOKED = reason_record("reauth_required", generation=2, since=NOW)


def answer(judge: Judge, key: str, text: str | bytes | None, now: float) -> tuple[Reason, str | None]:
    reading = judge.judge(key, text, now)
    return reading.reason, None if reading.token is None else reading.token.access_token


def test_a_key_read_again_with_the_same_text_is_parsed_once():
    judge = Judge()
    text = token("A" * 800)
    first = judge.judge("k", text, NOW)
    again = judge.judge("k", "".join(text), NOW + 1)  # an equal text read anew: another object, same content
    assert first.ok and again is first


def test_a_changed_record_is_read_as_it_now_is():
    judge = Judge()
    assert answer(judge, "k", token("A" * 800), NOW) == (Reason.OK, "A" * 800)
    assert answer(judge, "k", token("B" * 800, 2), NOW) == (Reason.OK, "B" * 800)  # refreshed: same length
    assert answer(judge, "k", REVOKED, NOW) == (Reason.REAUTH_REQUIRED, None)
    assert answer(judge, "k", '{"v":1,"access_token":"C"', NOW) == (Reason.UNSUPPORTED_VERSION, None)
    assert "k" not in judge._cache  # an unreadable record is not kept, nor the reading before it
    assert answer(judge, "k", token("A" * 800), NOW) == (Reason.OK, "A" * 800)


def test_a_removed_record_takes_its_token_out_of_the_process():
    judge = Judge()
    judge.judge("k", token("SECRET" * 100), NOW)
    assert "k" in judge._cache
    assert answer(judge, "k", None, NOW) == (Reason.UNKNOWN, None)
    assert "k" not in judge._cache


def test_the_clock_is_checked_on_every_read_of_a_kept_reading():
    judge = Judge(min_remaining=30)
    text = token("A", expires_at=NOW + 100)
    assert answer(judge, "k", text, NOW) == (Reason.OK, "A")
    assert answer(judge, "k", text, NOW + 75) == (Reason.EXPIRED, None)  # 25 s left: too little
    assert answer(judge, "k", text, NOW + 100) == (Reason.EXPIRED, None)
    assert answer(judge, "k", text, NOW) == (Reason.OK, "A")  # (a clock set back: the kept reading again)


def test_a_full_automatic_cache_is_dropped_and_paused_then_starts_over():
    """Keys read evenly from more than the cache holds: it fills, is emptied, and stays off for CACHE_PAUSE
    seconds of the reader's clock (every read parsed, answers unchanged); then it keeps readings again."""
    judge = Judge()
    texts = [token(f"at-{i}") for i in range(AUTO_CACHE_KEYS + 1)]
    for i, text in enumerate(texts[:-1]):
        judge.judge(f"k{i}", text, NOW)
    assert len(judge._cache) == AUTO_CACHE_KEYS
    assert answer(judge, f"k{AUTO_CACHE_KEYS}", texts[-1], NOW) == (Reason.OK, f"at-{AUTO_CACHE_KEYS}")
    assert judge._cache == {}  # dropped whole: the memory goes back at once
    for i in (0, 7, AUTO_CACHE_KEYS):  # paused: answered, nothing kept
        assert answer(judge, f"k{i}", texts[i], NOW + CACHE_PAUSE - 1) == (Reason.OK, f"at-{i}")
    assert judge._cache == {}
    assert answer(judge, "k7", texts[7], NOW + CACHE_PAUSE) == (Reason.OK, "at-7")
    assert list(judge._cache) == ["k7"]  # the pause is over: keeping again


def test_a_full_cache_is_released_a_few_entries_per_miss_never_on_one_read():
    """Freeing a full cache in one go took the read that filled it 9-16 ms (16,384 entries of 800-byte tokens):
    a latency spike on the request path once a minute for a fleet larger than the cache. It is set aside
    instead, and each later miss releases at most DRAIN_PER_MISS entries; a removed key's token goes at once."""
    from freshtoken_reader.reader import DRAIN_PER_MISS

    judge = Judge()
    texts = [token(f"at-{i}") for i in range(AUTO_CACHE_KEYS + 1)]
    for i, text in enumerate(texts[:-1]):
        judge.judge(f"k{i}", text, NOW)
    judge.judge("filler", texts[-1], NOW)
    assert judge._cache == {} and len(judge._retired) == AUTO_CACHE_KEYS  # nothing freed on the filling read
    for i in range(100):  # paused: the reads do no cache work at all
        judge.judge(f"k{i}", texts[i], NOW + 1)
    assert len(judge._retired) == AUTO_CACHE_KEYS
    assert answer(judge, "k5", None, NOW + 2) == (Reason.UNKNOWN, None)  # removed: its token goes now
    assert "k5" not in judge._retired and len(judge._retired) == AUTO_CACHE_KEYS - 1
    left = len(judge._retired)
    later = NOW + CACHE_PAUSE
    for i in range(6, AUTO_CACHE_KEYS + 1):  # misses after the pause: each releases a few
        judge.judge(f"k{i}", texts[i], later)
        assert left - DRAIN_PER_MISS - 1 <= len(judge._retired) <= left  # (+1: the key's own old entry)
        left = len(judge._retired)
        if not left:
            break
    assert judge._retired == {} and len(judge._cache) <= AUTO_CACHE_KEYS // DRAIN_PER_MISS + 1


def test_a_fixed_size_cache_starts_over_when_full_and_never_pauses():
    judge = Judge(cache_size=2)
    for i in range(5):
        judge.judge(f"k{i}", token(f"at-{i}"), NOW)
    assert list(judge._cache) == ["k4"]  # emptied at the third key and at the fifth
    assert answer(judge, "k5", token("at-5"), NOW) == (Reason.OK, "at-5")
    assert list(judge._cache) == ["k4", "k5"]


def test_cache_size_zero_keeps_nothing_and_a_bad_size_is_refused():
    judge = Judge(cache_size=0)
    for _ in range(3):
        assert answer(judge, "k", token("A"), NOW) == (Reason.OK, "A")
    assert judge._cache == {}
    for bad in (-1, 1.5, True, "16"):
        with pytest.raises(ValueError, match="cache_size"):
            Judge(cache_size=bad)  # type: ignore[arg-type]


# -- an adversarial sequence: keys whose records change under a small cache ------------------------------------
KEYS = ["a", "b", "c", "d"]
TEXTS = [token("A" * 40), token("B" * 40, 2), token("A" * 40, expires_at=NOW + 20), REVOKED, None,
         token("A" * 40).encode(), b"\xff\xfe", '{"v":9}', token("A\x01" * 20), token("a" * 39 + "\x7f")]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from(TEXTS), st.integers(0, 3 * int(CACHE_PAUSE))),
                max_size=60),
       st.sampled_from([None, 0, 1, 3]))
def test_after_any_sequence_of_changes_the_cache_answers_what_no_cache_answers(
        steps: list[tuple[str, str | bytes | None, int]], cache_size: int | None):
    judge = Judge(min_remaining=5, cache_size=cache_size)
    if cache_size is None:
        judge.cache_size = 3  # the automatic cache, small enough to fill and pause within the sequence
    plain = Judge(min_remaining=5, cache_size=0)
    now = NOW
    for key, text, tick in steps:
        now += tick
        assert answer(judge, key, text, now) == answer(plain, key, text, now), (key, text, now)
        assert len(judge._cache) <= 3
        assert judge._text_bytes == sum(len(t) for t, _ in judge._cache.values())  # the budget's accounting


# -- both readers use it by default ----------------------------------------------------------------------------
def test_the_light_reader_and_the_token_reader_keep_readings_by_default():
    store = {"k": token("A" * 800)}
    light = Reader(store.get, clock=lambda: NOW)
    assert light.read("k") is light.read("k")
    store["k"] = REVOKED
    assert light.read("k").reason is Reason.REAUTH_REQUIRED
    del store["k"]
    assert light.read("k").reason is Reason.UNKNOWN and light.judge._cache == {}

    clock = ManualClock(NOW)
    kv = MemoryKV(clock=clock)
    sdk = TokenReader(kv, clock=clock)
    kv._data["k"] = (token("A" * 800), None)
    assert sdk.judge("k", kv.get_sync("k")) is sdk.judge("k", kv.get_sync("k"))
    assert sdk._cache  # kept


def test_large_records_cannot_grow_the_cache_past_its_byte_budget():
    """An endpoint that hands out huge access tokens (the SDK reads up to 256 KB of a token response) fills a
    gateway's cache by bytes long before it fills by keys: the cache keeps at most CACHE_TEXT_BYTES of record
    text (the token's own copy and the objects come on top, about as much again), then behaves as when full."""
    from freshtoken_reader.reader import CACHE_TEXT_BYTES

    huge = [token(f"{i}-".ljust(200_000, "x")) for i in range(CACHE_TEXT_BYTES // 200_000 + 20)]
    for mode in (None, 50_000):
        judge = Judge(cache_size=mode)
        for i, text in enumerate(huge):
            assert answer(judge, f"k{i}", text, NOW)[0] is Reason.OK
            assert sum(len(t) for t, _ in judge._cache.values()) <= CACHE_TEXT_BYTES
            assert sum(len(t) for t, _ in judge._retired.values()) <= CACHE_TEXT_BYTES  # (set aside: draining)
        if mode is None:
            assert judge._cache == {} and judge._cache_from == NOW + CACHE_PAUSE  # paused as when full
        else:
            assert 0 < len(judge._cache) < CACHE_TEXT_BYTES // 200_000 + 1


def test_threads_sharing_one_reader_each_see_the_record_as_committed(tmp_path):
    """Four threads read four keys through one reader (one cache, two keys: emptied all the time) from a real
    SQLite KV while a writer refreshes, revokes and removes between phases: after each phase's commit, every read
    in every thread answers that phase's record — none an earlier one that another thread had kept."""
    import threading

    from freshtoken.embedded import SQLiteKV
    from freshtoken_reader import SQLiteSource

    path = tmp_path / "kv.db"
    writer = SQLiteKV(path)
    keys = [f"t:p:{k}" for k in "abcd"]
    phases: list[dict[str, str | None]] = [
        {k: token(f"{k}-1") for k in keys},
        {k: token(f"{k}-2", 2) for k in keys},  # refreshed (same length)
        {keys[0]: REVOKED, keys[1]: None, keys[2]: token("c-3", 3), keys[3]: token("d-2", 2)},
        {keys[0]: token("a-4", 4), keys[1]: token("b-4", 4), keys[2]: None, keys[3]: REVOKED},
    ]
    reader = Reader(SQLiteSource(path), clock=lambda: NOW, cache_size=2)
    barrier = threading.Barrier(5)
    wrong: list[str] = []

    def want(text: str | None) -> tuple[Reason, str | None]:
        return answer(Judge(cache_size=0), "x", text, NOW)

    def read_all(t: int) -> None:
        for p, phase in enumerate(phases):
            barrier.wait()  # the writer has committed this phase
            for n in range(300):
                k = keys[(n + t) % 4]
                got = reader.read(k)
                if (got.reason, None if got.token is None else got.token.access_token) != want(phase[k]):
                    wrong.append(f"phase {p}, thread {t}, {k}: {got.reason.value}")
            barrier.wait()  # every thread done before the next write

    threads = [threading.Thread(target=read_all, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for phase in phases:
        for k, text in phase.items():
            if text is None:
                writer._db().execute("DELETE FROM kv WHERE key = ?", (k,))
            else:
                writer.put_sync(k, text, 7200)
        barrier.wait()
        barrier.wait()
    for th in threads:
        th.join(timeout=60)
    writer.close()
    assert wrong == []


def test_threads_changing_records_cannot_lose_the_byte_count(monkeypatch):
    """The byte budget holds with threads: six threads share one judge (as one gateway shares one reader) while
    the records change under them, on a tiny budget and a switch interval of a microsecond (so a thread is
    interrupted inside the cache's bookkeeping as often as it can be). Afterwards the count equals the text kept,
    and the text kept is within the budget — a count updated without a lock loses an update now and then (two
    threads read it, both add, one sum survives), and a count that runs behind lets the cache grow past it."""
    import sys
    import threading

    from freshtoken_reader import reader as reader_module

    budget = 40_000
    monkeypatch.setattr(reader_module, "CACHE_TEXT_BYTES", budget)
    texts = [[token(f"{k}-{g}-".ljust(200 + 37 * (k % 7), "x"), g) for g in range(3)] for k in range(64)]
    judge = Judge(cache_size=1_000)
    over: list[int] = []

    def run(t: int) -> None:
        for n in range(6_000):
            k = (n * 7 + t * 13) % 64
            judge.judge(f"k{k}", texts[k][(n // 64 + t) % 3], NOW)
            if judge._text_bytes > budget:
                over.append(judge._text_bytes)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=run, args=(t,)) for t in range(6)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=120)
    finally:
        sys.setswitchinterval(interval)
    kept = sum(len(t) for t, _ in judge._cache.values())
    assert judge._text_bytes == kept
    assert kept <= budget and over == []


def test_a_read_from_inside_the_cache_bookkeeping_does_not_deadlock():
    """Code can run in the reading thread while it holds the cache's lock — a signal handler, or a finaliser the
    garbage collector calls when the cache's insert allocates — and that code may read a token too. Simulated
    here by a read from inside the step that sets a full cache aside: it must answer, not wait for ever on a lock
    its own thread holds (the read runs in a thread so that a deadlock fails the test instead of hanging it)."""
    import threading

    judge = Judge(cache_size=2)
    retire = judge._retire
    nested: list[Reason] = []
    entered: list[bool] = []

    def retire_and_read() -> None:
        if not entered:  # (once: the nested read may fill the cache and set it aside too)
            entered.append(True)
            nested.append(answer(judge, "inner", token("inner"), NOW)[0])
        retire()

    judge._retire = retire_and_read  # type: ignore[method-assign]
    outer: list[Reason] = []

    def read_three() -> None:
        for k in ("a", "b", "c"):  # the third fills the cache of two: it is set aside
            outer.append(answer(judge, k, token(k), NOW)[0])

    th = threading.Thread(target=read_three, daemon=True)
    th.start()
    th.join(timeout=10)
    assert not th.is_alive(), "a read inside the cache's bookkeeping waited on its own thread's lock"
    assert outer == [Reason.OK] * 3 and nested and set(nested) == {Reason.OK}
    assert judge._text_bytes == sum(len(t) for t, _ in judge._cache.values())
