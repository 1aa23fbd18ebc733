"""The HTTP transport is a seam: ``TokenHTTP(transport=...)`` sends through any httpx transport (here
``httpx.MockTransport``), with the endpoint policy, client authentication, size limit and error mapping of the
real path unchanged."""

from __future__ import annotations

import base64

import httpx
import pytest

from freshtoken.client import OAuthClient
from freshtoken.errors import MalformedResponse, Misconfigured, RetryableError
from freshtoken.http import MAX_RESPONSE_BYTES, TokenHTTP, TokenRequest

CLIENT = OAuthClient(name="c", provider="generic", client_id="my id", client_secret="s&cret")
REQUEST = TokenRequest(url="https://as.example/token", params={"grant_type": "refresh_token", "refresh_token": "rt"},
                       auth_method="client_secret_basic")


async def test_a_mock_transport_sees_the_prepared_request_and_its_answer_is_mapped() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(429, headers={"Retry-After": "7"}, json={"error": "slow_down"})

    http = TokenHTTP(transport=httpx.MockTransport(handler))
    response = await http.send(REQUEST, CLIENT, timeout=5)
    await http.aclose()
    (request,) = seen
    assert request.method == "POST" and str(request.url) == "https://as.example/token"
    # RFC 6749 §2.3.1: form-urlencoded before the Basic encoding
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"my+id:s%26cret").decode()
    assert request.content == b"grant_type=refresh_token&refresh_token=rt"
    assert response.status == 429 and response.headers["retry-after"] == "7"
    assert response.json() == {"error": "slow_down"} and not response.truncated


async def test_the_endpoint_policy_still_applies_before_the_transport() -> None:
    calls: list[httpx.Request] = []
    http = TokenHTTP(transport=httpx.MockTransport(lambda r: calls.append(r) or httpx.Response(200)))
    for url in ("http://as.example/token", "https://169.254.169.254/token", "https://10.1.2.3/token"):
        with pytest.raises(Misconfigured) as info:
            await http.send(TokenRequest(url=url, params={"refresh_token": "rt"}), CLIENT, timeout=5)
        assert info.value.error == "unsafe_endpoint"
    assert calls == []  # refused before the secret was attached and sent


async def test_transport_failures_map_as_on_the_real_path() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused (secret rt in the message)", request=request)

    with pytest.raises(RetryableError, match=r"^token endpoint unreachable \(ConnectError\)$"):
        await TokenHTTP(transport=httpx.MockTransport(refuse)).send(REQUEST, CLIENT, timeout=5)

    def huge(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"x" * (MAX_RESPONSE_BYTES + 10))

    response = await TokenHTTP(transport=httpx.MockTransport(huge)).send(REQUEST, CLIENT, timeout=5)
    assert response.truncated and len(response.body) <= MAX_RESPONSE_BYTES

    def bad_encoding(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=b"not gzip")

    with pytest.raises(MalformedResponse):
        await TokenHTTP(transport=httpx.MockTransport(bad_encoding)).send(REQUEST, CLIENT, timeout=5)


async def test_client_or_transport_not_both_and_only_an_own_client_is_closed() -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(200))
    theirs = httpx.AsyncClient(transport=transport)
    with pytest.raises(ValueError, match="client or a transport, not both"):
        TokenHTTP(theirs, transport=transport)
    shared = TokenHTTP(theirs)
    await shared.send(REQUEST, CLIENT, timeout=5)
    await shared.aclose()
    assert not theirs.is_closed  # closed by its owner
    await theirs.aclose()
    own = TokenHTTP(transport=transport)
    await own.send(REQUEST, CLIENT, timeout=5)
    client = own._http()
    await own.aclose()
    assert client.is_closed


async def test_each_url_goes_to_its_own_endpoint_with_parsed_urls_kept_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A TokenHTTP keeps the parsed form of the URLs it posts to (parsing costs more than building the rest of
    the request). Kept or not, each request goes to its own URL, with its own query, and the store is bounded."""
    import freshtoken.http as http_module

    monkeypatch.setattr(http_module, "ALLOWED_URLS_KEPT", 2)
    seen: list[str] = []
    http = TokenHTTP(transport=httpx.MockTransport(lambda r: seen.append(str(r.url)) or httpx.Response(200, json={})))
    urls = ["https://a.example/token", "https://b.example/oauth/token?tenant=1", "https://b.example/oauth/token?tenant=2",
            "https://a.example/token", "https://c.example/t"]
    for url in urls * 2:
        await http.send(TokenRequest(url=url, params={"refresh_token": "rt"}), CLIENT, timeout=5)
    await http.aclose()
    assert seen == urls * 2
    assert list(http._urls) == urls[:2]
    with pytest.raises(Misconfigured, match="token endpoint URL is invalid"):
        await http.post("http://a.example:x/token", {}, b"", timeout=5)  # parsed here: still mapped
