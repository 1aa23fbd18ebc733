"""The KV REST writer against a loopback HTTP server: the exact requests it sends, and KV's limits."""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from freshtoken.kv.workers_limits import KVLimitError
from freshtoken.kv.workers_rest import KVRestError, RestKV
from freshtoken.record import KVRecord

TOKEN = "cf-api-token-abcdef123456"
ACCOUNT, NAMESPACE = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
VALUES = f"/client/v4/accounts/{ACCOUNT}/storage/kv/namespaces/{NAMESPACE}/values/"


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class FakeCloudflare:
    """A loopback HTTP/1.1 server that records requests and answers from a script."""

    requests: list[Seen] = field(default_factory=list)
    answers: list[tuple[int, Any]] = field(default_factory=list)
    store: dict[str, bytes] = field(default_factory=dict)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                method, target, _ = line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while (h := await reader.readline()) not in (b"\r\n", b""):
                    k, _, v = h.decode().partition(":")
                    headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                parts = urlsplit(target)
                self.requests.append(Seen(method, parts.path, parse_qs(parts.query), headers, body, time.monotonic()))
                status, payload = self.answers.pop(0) if self.answers else (200, {"success": True, "errors": []})
                if method == "GET":
                    key = parts.path.rsplit("/", 1)[-1]
                    raw = self.store.get(key)
                    status, out = (200, raw) if raw is not None else (404, b'{"success":false}')
                else:
                    if method == "PUT" and status == 200:
                        self.store[parts.path.rsplit("/", 1)[-1]] = body
                    out = json.dumps(payload).encode()
                writer.write(f"HTTP/1.1 {status} X\r\ncontent-length: {len(out)}\r\n"
                             f"content-type: application/json\r\n\r\n".encode() + out)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def cloudflare() -> AsyncIterator[FakeCloudflare]:
    fake = FakeCloudflare()
    server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
    fake.port = server.sockets[0].getsockname()[1]
    yield fake
    server.close()


@pytest.fixture
async def kv(cloudflare: FakeCloudflare) -> AsyncIterator[RestKV]:
    writer = RestKV(account_id=ACCOUNT, namespace_id=NAMESPACE, api_token=TOKEN,
                    base_url=f"http://127.0.0.1:{cloudflare.port}")
    yield writer
    await writer.aclose()


def multipart(seen: Seen) -> dict[str, bytes]:
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + seen.headers["content-type"].encode() + b"\r\n\r\n" + seen.body
    )
    out: dict[str, bytes] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        out[str(name)] = part.get_payload(decode=True)
    return out


def record(generation: int = 3, expires_at: int = 1_800_003_600) -> str:
    return KVRecord(access_token="at-xyz", expires_at=expires_at, generation=generation,
                    refreshed_at=1_800_000_000).dumps()


async def test_put_sends_the_documented_request(kv: RestKV, cloudflare: FakeCloudflare):
    value = record()
    await kv.put("acme:generic:user/1", value, 3599.4)
    (seen,) = cloudflare.requests
    assert seen.method == "PUT"
    assert seen.path == VALUES + "acme%3Ageneric%3Auser%2F1"
    assert seen.query == {"expiration_ttl": ["3600"]}
    assert seen.headers["authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["content-type"].startswith("multipart/form-data; boundary=")
    fields = multipart(seen)
    assert set(fields) == {"value", "metadata"}
    assert fields["value"].decode() == value
    assert json.loads(fields["metadata"]) == {"v": 1, "generation": 3, "expires_at": 1_800_003_600}


async def test_ttl_is_clamped_to_60_and_absent_when_none(kv: RestKV, cloudflare: FakeCloudflare):
    await kv.put("k1", record(), 12)
    await kv.put("k2", record(), None)
    assert cloudflare.requests[0].query == {"expiration_ttl": ["60"]}
    assert cloudflare.requests[1].query == {}


async def test_a_value_that_is_not_a_record_is_sent_raw_without_metadata(kv: RestKV, cloudflare: FakeCloudflare):
    await kv.put("plain", "hello", 120)
    (seen,) = cloudflare.requests
    assert seen.headers["content-type"] == "text/plain; charset=utf-8"
    assert seen.body == b"hello" and seen.query == {"expiration_ttl": ["120"]}


async def test_delete_and_get(kv: RestKV, cloudflare: FakeCloudflare):
    await kv.put("k", record(), 600)
    await asyncio.sleep(1.0)  # one write per second per key
    await kv.delete("k")
    assert [(r.method, r.path) for r in cloudflare.requests] == [("PUT", VALUES + "k"), ("DELETE", VALUES + "k")]
    assert cloudflare.requests[1].headers["authorization"] == f"Bearer {TOKEN}"
    assert await kv.get("missing") is None


async def test_too_long_key_fails_before_any_request(kv: RestKV, cloudflare: FakeCloudflare):
    with pytest.raises(KVLimitError, match="513 bytes"):
        await kv.put("k" * 513, record(), 600)
    assert cloudflare.requests == []


async def test_writes_to_one_key_are_spaced_a_second_apart_and_coalesced(kv: RestKV, cloudflare: FakeCloudflare):
    started = time.monotonic()
    await kv.put("k", record(1), 600)
    await asyncio.gather(kv.put("k", record(2), 600), kv.put("k", record(3), 600), kv.put("other", record(9), 600))
    elapsed = time.monotonic() - started
    puts_k = [r for r in cloudflare.requests if r.path.endswith("/k")]
    assert len(puts_k) == 2  # the write of generation 2 was superseded by 3 while it waited
    assert json.loads(multipart(puts_k[1])["value"])["generation"] == 3
    assert puts_k[1].at - puts_k[0].at >= 0.99
    assert 0.99 <= elapsed < 2.0
    assert len(cloudflare.requests) == 3


async def test_errors_carry_status_and_codes_never_the_token(kv: RestKV, cloudflare: FakeCloudflare):
    cloudflare.answers.append((403, {"success": False, "errors": [
        {"code": 10000, "message": f"Authentication error for {TOKEN}"}]}))
    with pytest.raises(KVRestError) as info:
        await kv.put("k", record(), 600)
    assert info.value.status == 403 and info.value.codes == (10000,) and not info.value.retryable
    assert TOKEN not in str(info.value)
    await asyncio.sleep(1.0)
    cloudflare.answers.append((429, {"success": False, "errors": [{"code": 10014, "message": "rate limited"}]}))
    with pytest.raises(KVRestError) as info:
        await kv.put("k", record(), 600)
    assert info.value.retryable and info.value.status == 429


async def test_unreachable_api_is_a_retryable_error():
    kv = RestKV(account_id=ACCOUNT, namespace_id=NAMESPACE, api_token=TOKEN, base_url="http://127.0.0.1:9")
    try:
        with pytest.raises(KVRestError, match="failed") as info:
            await kv.put("k", record(), 600)
        assert info.value.retryable and TOKEN not in str(info.value)
    finally:
        await kv.aclose()


def test_ids_are_validated():
    with pytest.raises(Exception, match="alphanumeric"):
        RestKV(account_id="../x", namespace_id=NAMESPACE, api_token=TOKEN)
    with pytest.raises(Exception, match="api_token"):
        RestKV(account_id=ACCOUNT, namespace_id=NAMESPACE, api_token="")
