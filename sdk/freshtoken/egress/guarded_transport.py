"""An httpx transport that connects only to addresses the endpoint policy allows.

The endpoint policy (:mod:`freshtoken.egress.endpoint_policy`) checks a URL as written; a host *name* there says
nothing about where it leads. :class:`GuardedTransport` closes that gap at the one place that knows: when
a connection is opened, the name is resolved, **every** address it resolves to is checked against the
policy (a name that resolves to a metadata, link-local or — without the switch — private address is
refused), and the connection is made to a checked address, so a second resolution (DNS rebinding) cannot
swap it. This happens before a byte is written: the request, and the secret in it, never leave.

TLS is unaffected: the certificate is verified against the URL's host name (SNI), not the address.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import anyio
import httpcore
import httpx

from .endpoint_policy import DEFAULT_POLICY, EndpointPolicy, IPAddress, host_address

#: Resolves a host name to its addresses (the default: the system resolver, through anyio).
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]


async def system_resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to, in the resolver's order, without duplicates."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    out: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = host_address(str(sockaddr[0]))
        if address is not None and address not in out:
            out.append(address)
    return out


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the policy applied to the addresses a host resolves to."""

    def __init__(
        self,
        policy: EndpointPolicy = DEFAULT_POLICY,
        *,
        resolve: Resolver | None = None,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.policy = policy
        self._resolve = resolve or system_resolve
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        literal = host_address(host)
        if literal is not None:
            addresses = [literal]
        else:
            try:
                with anyio.fail_after(timeout):
                    addresses = await self._resolve(host, port)
            except TimeoutError:
                raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
            except OSError as exc:
                raise httpcore.ConnectError(f"{host} cannot be resolved ({exc.__class__.__name__})") from None
            if not addresses:
                raise httpcore.ConnectError(f"{host} resolves to no address")
        for address in addresses:  # one refused address refuses the name: no partial trust
            where = f"host {host}" + (f" (resolves to {address})" if literal is None else "")
            self.policy.check_address(address, where)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not an endpoint")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """:class:`httpx.AsyncHTTPTransport` over a :class:`GuardedNetworkBackend` (no proxy, no environment).

    httpx has no parameter for a network backend, so the connection pool is built here the way
    ``AsyncHTTPTransport`` builds it; every other method is httpx's.
    """

    def __init__(
        self,
        policy: EndpointPolicy = DEFAULT_POLICY,
        *,
        limits: httpx.Limits | None = None,
        verify: Any = True,
        backend: httpcore.AsyncNetworkBackend | None = None,
        pool_class: type[httpcore.AsyncConnectionPool] = httpcore.AsyncConnectionPool,
    ) -> None:
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
        self.policy = policy
        self._pool = pool_class(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend or GuardedNetworkBackend(policy),
        )
