"""Sending a token request: client authentication by authlib, transport by httpx.

Client authentication methods are authlib's (``ClientAuth`` and RFC 7523's ``ClientSecretJWT`` /
``PrivateKeyJWT``), with one correction: RFC 6749 §2.3.1 says the client id and secret are
form-urlencoded *before* Basic encoding, which authlib's ``client_secret_basic`` does not do and strict
servers (oidc-provider) require.
"""

from __future__ import annotations

import asyncio
import base64
import json
import select
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode

import httpcore
import httpx
from authlib.oauth2.auth import ClientAuth

from .client import OAuthClient
from .egress.endpoint_policy import DEFAULT_POLICY, EndpointPolicy
from .egress.guarded_transport import GuardedNetworkBackend, GuardedTransport
from .egress.http_logs import quiet_provider_echoes
from .errors import MalformedResponse, Misconfigured, RetryableError, UnsafeEndpoint

quiet_provider_echoes()  # httpx/httpcore log reason phrases and response headers: an endpoint may echo secrets

#: Largest token response read; anything longer is refused as malformed.
MAX_RESPONSE_BYTES = 256 * 1024
USER_AGENT = "freshtoken/0.1"
#: Seconds between two sweeps of the idle pooled connections for expiry (the one about to be used is always checked).
SWEEP_INTERVAL = 1.0
#: How many allowed token-endpoint URLs a TokenHTTP remembers (one per provider endpoint and account host).
ALLOWED_URLS_KEPT = 4096


@dataclass(frozen=True)
class TokenRequest:
    """A request to a token endpoint, before client authentication is applied."""

    url: str
    params: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)
    body_format: str = "form"  # "form" or "json"
    auth_method: str = "client_secret_post"


@dataclass(frozen=True)
class TokenResponse:
    """What came back: status, headers (lower-case names) and at most :data:`MAX_RESPONSE_BYTES` of body."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    truncated: bool = False

    def json(self) -> Any:
        return json.loads(self.body)


def _encode_basic_urlencoded(client: Any, method: str, uri: str, headers: dict[str, str], body: str) -> Any:
    user = quote_plus(client.client_id)
    password = quote_plus(client.client_secret or "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    headers["Authorization"] = f"Basic {token}"
    return uri, headers, body


def _jwt_key(client: OAuthClient) -> Any:
    if client.private_key is None:
        raise Misconfigured(f"client {client.name!r}: private_key_jwt needs a private_key")
    from .strategies.assertion import signing_key  # parsed once per key text (~170 ms for RSA 2048, not per request)

    return signing_key(client).key


def client_auth(client: OAuthClient, method: str, token_url: str) -> ClientAuth:
    """The authlib ``ClientAuth`` for ``client`` using ``method``."""
    secret = client.client_secret.get_secret_value() if client.client_secret else None
    if method == "client_secret_basic":
        return ClientAuth(client.client_id, secret, _encode_basic_urlencoded)
    if method in ("client_secret_post", "none"):
        if method == "client_secret_post" and secret is None:
            raise Misconfigured(f"client {client.name!r}: client_secret_post needs a client_secret")
        return ClientAuth(client.client_id, secret, method)
    from authlib.oauth2.rfc7523 import ClientSecretJWT, PrivateKeyJWT

    headers = dict(client.jwt_headers) or None
    if method == "client_secret_jwt":
        if secret is None:
            raise Misconfigured(f"client {client.name!r}: client_secret_jwt needs a client_secret")
        return ClientAuth(
            client.client_id, secret, ClientSecretJWT(token_url, headers=headers, alg=client.jwt_alg)
        )
    if method == "private_key_jwt":
        return ClientAuth(
            client.client_id, _jwt_key(client), PrivateKeyJWT(token_url, headers=headers, alg=client.jwt_alg)
        )
    raise Misconfigured(f"client {client.name!r}: unknown client auth method {method!r}")


def prepare(request: TokenRequest, client: OAuthClient) -> tuple[str, dict[str, str], bytes]:
    """Apply client authentication; return (url, headers, body) ready to send."""
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **request.headers}
    auth = client_auth(client, request.auth_method, request.url)
    form = urlencode(request.params)
    url, headers, form = auth.prepare("POST", request.url, headers, form)
    if request.body_format == "json":
        body = json.dumps(dict(parse_qsl(form, keep_blank_values=True))).encode()
        headers["Content-Type"] = "application/json"
    else:
        body = form.encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    return url, headers, body


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _header_dict(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Response headers by lower-case name, a repeated one joined with ", " (as httpx's ``Headers.items()``),
    from the raw pairs: ``items()`` works out the encoding of every header again for each one (quadratic)."""
    out: dict[str, str] = {}
    for k, v in raw:
        name, value = _text(k).lower(), _text(v)
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def _readable(sock: socket.socket | None) -> bool:
    """Whether ``sock`` has data (or an EOF) to read now; a closed socket counts as readable (httpcore's rule)."""
    fd = -1 if sock is None else sock.fileno()
    if fd < 0:
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


class _PooledStream(httpcore.AsyncNetworkStream):
    """An httpcore stream that answers the pool's "is this idle connection readable?" check from the socket it
    keeps. httpcore asks it of every idle pooled connection at each request (twice), and the anyio stream
    rebuilds a dict of socket attributes, with a ``getpeername`` call, for every ask: most of the pool's cost."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._sock: socket.socket | None = inner.get_extra_info("socket")
        self._head: bytes | None = None

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self._head is not None:  # never wait for an answer to bytes not sent
            await self.write(b"", timeout)
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """A request's head is held until the next write (its body, or the empty end of a request without one)
        and sent with it: one send and one segment per token request instead of two (h11 writes the head and the
        body separately). Anything else, or a read, sends what is held at once."""
        if self._head is not None:
            buffer, self._head = self._head + buffer, None
        elif buffer.endswith(b"\r\n\r\n") and buffer[:5] == b"POST ":
            self._head = buffer
            return
        if buffer:
            await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        self._head = None
        await self._inner.aclose()

    async def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        return _PooledStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return _readable(self._sock)
        return self._inner.get_extra_info(info)


class _LeanPool(httpcore.AsyncConnectionPool):
    """httpcore's connection pool with its bookkeeping in linear time. httpcore (1.0) runs it at every request
    queued or released; for each idle connection it counts every pooled connection again (quadratic in the pool
    size: ~1,000 checks per request with 32 connections). Same decisions, same order."""

    _swept_at = 0.0

    def _assign_requests_to_connections(self) -> list[Any]:
        closing: list[Any] = []
        # httpcore asks every pooled connection whether it has expired (for an idle one, a poll() of its socket)
        # twice per request; here that sweep runs at most once a second, and the connection about to be used
        # is always asked first (below)
        now = time.monotonic()
        sweep = now - self._swept_at >= SWEEP_INTERVAL
        if sweep:
            self._swept_at = now
        for pooled in list(self._connections):
            if pooled.is_closed():
                self._connections.remove(pooled)
            elif (sweep and pooled.has_expired()) or (
                pooled.is_idle() and len(self._connections) > self._max_keepalive_connections
            ):
                self._connections.remove(pooled)
                closing.append(pooled)
        for pool_request in [r for r in self._requests if r.is_queued()]:
            origin = pool_request.request.url.origin
            connection: Any = None
            for candidate in [c for c in self._connections if c.can_handle_request(origin) and c.is_available()]:
                if candidate.has_expired():  # keep-alive expired, or the server closed it while idle
                    self._connections.remove(candidate)
                    closing.append(candidate)
                    continue
                connection = candidate
                break
            if connection is None:
                if len(self._connections) >= self._max_connections:
                    idle = next((c for c in self._connections if c.is_idle()), None)
                    if idle is None:
                        continue  # stays queued until a connection is released
                    self._connections.remove(idle)
                    closing.append(idle)
                connection = self.create_connection(origin)
                self._connections.append(connection)
            pool_request.assign_to_connection(connection)
        return closing


class _PooledBackend(httpcore.AsyncNetworkBackend):
    """httpcore's anyio backend, its streams wrapped in :class:`_PooledStream`."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None, socket_options: Any = None,
                          ) -> httpcore.AsyncNetworkStream:
        return _PooledStream(await self._inner.connect_tcp(host, port, timeout=timeout, local_address=local_address,
                                                           socket_options=socket_options))

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Any = None) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not an endpoint")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _merged(base: httpx.Headers | None, headers: dict[str, str]) -> httpx.Headers:
    merged = httpx.Headers(base)
    merged.update(headers)
    return merged


async def _read(resp: httpx.Response) -> TokenResponse:
    """The response, decoded, at most :data:`MAX_RESPONSE_BYTES` of it (the limit bounds a zip bomb too)."""
    chunks: list[bytes] = []
    size = 0
    truncated = False
    async for chunk in resp.aiter_bytes():
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            truncated = True
            break
        chunks.append(chunk)
    return TokenResponse(status=resp.status_code, headers=_header_dict(resp.headers.raw), body=b"".join(chunks),
                         truncated=truncated)


def _unsafe(exc: UnsafeEndpoint) -> Misconfigured:
    return Misconfigured(f"endpoint refused by the endpoint policy: {exc}", error="unsafe_endpoint")


class TokenHTTP:
    """Sends token requests over one shared ``httpx.AsyncClient`` (connection pooling, HTTP keep-alive).

    Transport failures become :class:`RetryableError` naming the failure class, never the request.

    The transport is the seam: ``TokenHTTP(transport=httpx.MockTransport(handler))`` sends through ``handler``
    (tests), everything else (endpoint policy, client authentication, the deadline, the size limit, the
    error mapping) unchanged. A subclass that does not use httpx at all (the Workers runtime's
    :class:`~freshtoken.cloudflare.fetch_http.FetchTokenHTTP`) overrides :meth:`post`; the httpx client is
    built on first use, so it never builds one.
    """

    #: The endpoint policy every request is checked against (see :mod:`freshtoken.egress.endpoint_policy`).
    policy: EndpointPolicy = DEFAULT_POLICY

    def __init__(
        self,
        client: httpx.AsyncClient | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 100,
        policy: EndpointPolicy | None = None,
    ) -> None:
        """``client``: an httpx client to send with (proxies; closed by its owner, not here). ``transport``:
        the httpx transport of the client built here. By default a
        :class:`~freshtoken.egress.guarded_transport.GuardedTransport`, which also checks the address a host name
        resolves to; a transport passed here replaces it (the URL is still checked against ``policy``)."""
        if client is not None and transport is not None:
            raise ValueError("TokenHTTP: pass an httpx client or a transport, not both")
        self.policy = policy or DEFAULT_POLICY
        #: URLs this policy allowed (a check parses and classifies the host: ~10 % of a refresh's CPU); bounded,
        #: and forgotten when ``policy`` is replaced. A refused URL is never remembered: it is refused every time.
        self._allowed: tuple[EndpointPolicy, set[str]] = (self.policy, set())
        #: url -> its parsed httpx.URL: parsing one costs more than the rest of building the request, and a
        #: deployment posts to a handful of token endpoints (bounded like ``_allowed``)
        self._urls: dict[str, httpx.URL] = {}
        self._own = client is None
        self._client = client
        self._transport = transport
        self._max_connections = max_connections
        #: The transport :meth:`post` sends through when this TokenHTTP built the client: the client's layer
        #: (cookie jar, redirects, auth flows, URL merging) does nothing for a token request and costs ~10 % of a
        #: refresh's CPU; a cookie a token endpoint sets must not ride along on another account's request either.
        self._direct: httpx.AsyncBaseTransport | None = None
        #: The headers the client would add (Accept-Encoding, Connection, ...), under the request's own.
        self._base_headers: httpx.Headers | None = None

    def _http(self) -> httpx.AsyncClient:
        """The httpx client, built on first use (redirects never followed: the body carries credentials)."""
        if self._client is None:
            limits = httpx.Limits(
                max_connections=self._max_connections, max_keepalive_connections=self._max_connections
            )
            transport = self._transport or GuardedTransport(
                self.policy, limits=limits, backend=GuardedNetworkBackend(self.policy, inner=_PooledBackend()),
                pool_class=_LeanPool,
            )
            self._client = httpx.AsyncClient(transport=transport, follow_redirects=False, trust_env=False)
            self._direct = transport
            self._base_headers = self._client.headers
        return self._client

    async def aclose(self) -> None:
        if self._own and self._client is not None:
            await self._client.aclose()

    async def send(self, request: TokenRequest, client: OAuthClient, *, timeout: float = 30.0) -> TokenResponse:
        """Check the URL against the endpoint policy (before the secret is attached), authenticate, post.

        A refusal, here or when the connection is opened, is a :class:`Misconfigured` (``unsafe_endpoint``).
        """
        try:
            self._check(request.url)
        except UnsafeEndpoint as exc:
            raise _unsafe(exc) from None
        try:
            url, headers, body = prepare(request, client)
        except Misconfigured:
            raise
        except Exception as exc:
            raise Misconfigured(
                f"client {client.name!r}: cannot authenticate the token request ({exc.__class__.__name__})"
            ) from None
        try:
            if url != request.url:
                self.policy.check(url)
            return await self.post(url, headers, body, timeout=timeout)
        except UnsafeEndpoint as exc:  # the address a host name resolved to (GuardedTransport)
            raise _unsafe(exc) from None

    def _check(self, url: str) -> None:
        """``self.policy.check(url)``, remembered for a URL it allowed (the check is a pure function of both)."""
        policy, allowed = self._allowed
        if policy is not self.policy:
            self._allowed = policy, allowed = self.policy, set()
        if url in allowed:
            return
        self.policy.check(url)
        if len(allowed) < ALLOWED_URLS_KEPT:
            allowed.add(url)

    async def post(self, url: str, headers: dict[str, str], body: bytes, *, timeout: float) -> TokenResponse:
        """POST and read the answer, all of it within ``timeout`` seconds: one deadline from the connection
        (name resolution included) to the last byte. httpx's own timeout bounds each step (connect, each read)
        and stays as it is; the deadline is what stops an endpoint that sends a byte now and then. An expired
        deadline is a :class:`RetryableError`; the exchange is abandoned and its connection closed."""
        try:
            async with asyncio.timeout(timeout):
                client = self._http()
                if self._direct is None:  # a client passed in (proxies): its own layer applies
                    async with client.stream(
                        "POST", url, headers=headers, content=body, timeout=httpx.Timeout(timeout)
                    ) as resp:
                        return await _read(resp)
                parsed = self._urls.get(url)
                if parsed is None:
                    parsed = httpx.URL(url)
                    if len(self._urls) < ALLOWED_URLS_KEPT:
                        self._urls[url] = parsed
                request = httpx.Request(
                    "POST", parsed, headers=_merged(self._base_headers, headers), content=body,
                    extensions={"timeout": httpx.Timeout(timeout).as_dict()},
                )
                resp = await self._direct.handle_async_request(request)
                resp.request = request
                try:
                    return await _read(resp)
                finally:
                    await resp.aclose()
        except TimeoutError:  # the deadline (asyncio.timeout); httpx's per-step timeouts are handled below
            raise RetryableError(
                f"token endpoint timed out: exceeded its deadline ({timeout:g} s from connect to the last byte)"
            ) from None
        except (httpx.InvalidURL, httpx.UnsupportedProtocol):  # first: UnsupportedProtocol is a TransportError
            raise Misconfigured("token endpoint URL is invalid") from None
        except httpx.TimeoutException as exc:
            raise RetryableError(f"token endpoint timed out ({exc.__class__.__name__})") from None
        except httpx.TransportError as exc:
            raise RetryableError(f"token endpoint unreachable ({exc.__class__.__name__})") from None
        except httpx.DecodingError as exc:
            raise MalformedResponse(f"token response body cannot be decoded ({exc.__class__.__name__})") from None
        except httpx.HTTPError as exc:
            raise RetryableError(f"token request failed ({exc.__class__.__name__})") from None

