"""FetchTokenHTTP's mapping of a JS-shaped fetch() (the transport on workerd is covered in test_cf_workerd)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from freshtoken.client import OAuthClient
from freshtoken.cloudflare.fetch_http import FetchTokenHTTP, response_headers
from freshtoken.errors import Misconfigured, RetryableError
from freshtoken.http import MAX_RESPONSE_BYTES, TokenRequest

from .harness import AbortSignal, FetchResponse, Headers, JsException, TimeoutSignal

CLIENT = OAuthClient(name="c", provider="generic", client_id="id", client_secret="secret-value")
REQUEST = TokenRequest(url="https://as.example/token", params={"grant_type": "refresh_token", "refresh_token": "rt"},
                       auth_method="client_secret_basic")


async def test_request_and_response_mapping():
    seen: list[tuple[str, Any]] = []

    async def fetch(url: str, init: Any) -> FetchResponse:
        seen.append((url, init))
        return FetchResponse({"status": 429, "headers": [["Retry-After", "7"], ["Content-Type", "application/json"]],
                              "body": '{"error": "slow_down"}'})

    response = await FetchTokenHTTP(fetch).send(REQUEST, CLIENT)
    (url, init), = seen
    assert url == "https://as.example/token"
    assert init["method"] == "POST" and init["redirect"] == "manual"
    assert init["headers"]["Authorization"].startswith("Basic ")
    assert init["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert init["body"] == "grant_type=refresh_token&refresh_token=rt"
    assert response.status == 429 and response.headers["retry-after"] == "7"
    assert response.json() == {"error": "slow_down"} and not response.truncated


async def test_network_failure_and_timeout_are_retryable_and_bad_urls_misconfigured():
    async def broken(url: str, init: Any) -> FetchResponse:
        raise JsException("TypeError", "Network connection lost.")

    with pytest.raises(RetryableError, match="unreachable"):
        await FetchTokenHTTP(broken).post("https://x/token", {}, b"", timeout=1)

    async def slow(url: str, init: Any) -> FetchResponse:
        await asyncio.sleep(5)
        raise AssertionError

    with pytest.raises(RetryableError, match="timed out"):
        await FetchTokenHTTP(slow).post("https://x/token", {}, b"", timeout=0.05)
    with pytest.raises(Misconfigured):
        await FetchTokenHTTP(slow).post("file:///etc/passwd", {}, b"", timeout=1)


class SlowResponse:
    """Headers already here; the body takes ``body_after`` more seconds (a JS Response whose text() is slow)."""

    def __init__(self, body_after: float) -> None:
        self.status = 200
        self.headers = Headers([("content-type", "application/json")])
        self.body_after = body_after

    async def text(self) -> str:
        await asyncio.sleep(self.body_after)
        return '{"access_token": "at", "token_type": "Bearer", "expires_in": 3600}'


async def test_one_deadline_bounds_headers_and_body_together():
    # headers after 0.6 T, the body 0.6 T later: each part is within T, the exchange is not (1.2 T)
    timeout = 1.0

    async def slow_headers_then_slow_body(url: str, init: Any) -> SlowResponse:
        await asyncio.sleep(0.6 * timeout)
        return SlowResponse(body_after=0.6 * timeout)

    with pytest.raises(RetryableError, match="timed out"):
        await FetchTokenHTTP(slow_headers_then_slow_body).post("https://x/token", {}, b"", timeout=timeout)


async def test_the_deadline_is_handed_to_the_runtime_as_an_abort_signal():
    seen: list[Any] = []

    async def fetch(url: str, init: Any) -> FetchResponse:
        seen.append(init)
        return FetchResponse({"status": 200, "headers": [], "body": "{}"})

    await FetchTokenHTTP(fetch, abort_signal=AbortSignal).post("https://x/token", {}, b"", timeout=2.5)
    await FetchTokenHTTP(fetch, abort_signal=AbortSignal).post("https://x/token", {}, b"", timeout=0.0001)
    assert [init["signal"] for init in seen] == [TimeoutSignal(2500), TimeoutSignal(1)]


async def test_an_aborted_fetch_is_a_retryable_timeout():
    # what workerd rejects with when the AbortSignal fires: during the request, or during the body read
    async def aborted(url: str, init: Any) -> FetchResponse:
        raise JsException("TimeoutError", "The operation was aborted due to timeout")

    with pytest.raises(RetryableError, match="timed out"):
        await FetchTokenHTTP(aborted, abort_signal=AbortSignal).post("https://x/token", {}, b"", timeout=5)

    class AbortedBody:
        status = 200
        headers = Headers([])

        async def text(self) -> str:
            raise JsException("AbortError", "The operation was aborted")

    async def aborted_body(url: str, init: Any) -> AbortedBody:
        return AbortedBody()

    with pytest.raises(RetryableError, match="timed out"):
        await FetchTokenHTTP(aborted_body, abort_signal=AbortSignal).post("https://x/token", {}, b"", timeout=5)


async def test_oversized_body_is_truncated():
    async def big(url: str, init: Any) -> FetchResponse:
        return FetchResponse({"status": 200, "headers": [], "body": "x" * (MAX_RESPONSE_BYTES + 10)})

    response = await FetchTokenHTTP(big).post("https://x/token", {}, b"", timeout=1)
    assert response.truncated and len(response.body) == MAX_RESPONSE_BYTES


def test_response_headers_from_every_shape():
    assert response_headers(None) == {}
    assert response_headers({"A": "1"}) == {"a": "1"}
    assert response_headers(Headers([("X-Y", "z")])) == {"x-y": "z"}
    assert response_headers([["K", "v"]]) == {"k": "v"}  # a JS Headers proxy iterates as pairs


async def test_the_base_constructor_runs_policy_threaded_and_no_httpx_client_built():
    """FetchTokenHTTP is a TokenHTTP built by TokenHTTP's constructor: the endpoint policy it is given decides
    (before the secret is attached); it never builds an httpx client, and closing it is harmless."""
    from freshtoken.egress.endpoint_policy import EndpointPolicy

    seen: list[str] = []

    async def fetch(url: str, init: Any) -> FetchResponse:
        seen.append(url)
        return FetchResponse({"status": 200, "body": "{}"})

    private = TokenRequest(url="https://10.1.2.3/token", params={"refresh_token": "rt"})
    with pytest.raises(Misconfigured, match="endpoint refused by the endpoint policy"):
        await FetchTokenHTTP(fetch).send(private, CLIENT)
    assert seen == []
    http = FetchTokenHTTP(fetch, policy=EndpointPolicy(allow_private_networks=True))
    assert (await http.send(private, CLIENT)).status == 200
    assert seen == ["https://10.1.2.3/token"]
    assert http._client is None
    await http.aclose()
