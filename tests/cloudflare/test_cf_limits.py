"""KV limits: key size, and at most one write per second per key (delayed, coalesced)."""

from __future__ import annotations

import asyncio

import pytest

from freshtoken.kv.workers_limits import KV_MAX_KEY_BYTES, KVLimitError, WriteGate, check_key


def test_key_limit_is_in_utf8_bytes_with_a_clear_error():
    assert check_key("a" * 512) == "a" * 512
    with pytest.raises(KVLimitError, match=r"513 bytes.*512"):
        check_key("a" * 513)
    with pytest.raises(KVLimitError, match="514 bytes"):
        check_key("é" * 257)  # 257 characters, 514 bytes
    for bad in ("", ".", ".."):
        with pytest.raises(KVLimitError):
            check_key(bad)
    assert KV_MAX_KEY_BYTES == 512


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(0)
        self.now += seconds


async def test_write_gate_spaces_writes_to_one_key_and_coalesces_the_waiting_ones():
    t = FakeTime()
    gate = WriteGate(monotonic=t.monotonic, sleep=t.sleep)
    sent: list[str] = []

    def op(v: str):
        async def run() -> None:
            sent.append(v)
        return run

    await gate.write("k", op("v1"))  # immediate
    t.now += 0.25
    # three writes within the same second: one delayed write, carrying the last value
    await asyncio.gather(gate.write("k", op("v2")), gate.write("k", op("v3")), gate.write("k", op("v4")))
    assert sent == ["v1", "v4"]
    assert t.sleeps == [pytest.approx(0.75)]
    assert gate.coalesced == 2 and gate.delayed == 1
    # another key is independent
    await gate.write("other", op("o1"))
    assert sent[-1] == "o1" and len(t.sleeps) == 1
    # after a second, no delay
    t.now += 1.0
    await gate.write("k", op("v5"))
    assert sent[-1] == "v5" and len(t.sleeps) == 1


async def test_write_gate_propagates_a_failed_write_to_every_coalesced_caller():
    t = FakeTime()
    gate = WriteGate(monotonic=t.monotonic, sleep=t.sleep)

    async def ok() -> None:
        return None

    async def boom() -> None:
        raise RuntimeError("KV said no")

    await gate.write("k", ok)
    results = await asyncio.gather(gate.write("k", ok), gate.write("k", boom), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
