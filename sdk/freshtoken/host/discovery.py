"""Token endpoint discovery from an issuer: RFC 8414 metadata, then OpenID Connect discovery.

The issuer is a URL the operator configured; the document it serves is not trusted:

* the issuer itself must pass the endpoint policy (:mod:`freshtoken.egress.endpoint_policy`);
* each document is read as a stream, at most :data:`MAX_DOCUMENT_BYTES` (decoded), and each exchange
  (connect, headers, body) must finish within one deadline, however slowly the server dribbles;
* a discovered ``token_endpoint`` / ``revocation_endpoint`` (where the client secret and the refresh
  token go) must share the issuer's origin — scheme, host and port — or be on the client's
  ``discovery_allowed_hosts``, and must pass the endpoint policy; otherwise :class:`UnsafeEndpoint`, before
  any secret is sent;
* the ``authorization_endpoint`` (where a connect flow sends the person's browser) is held to the same rule,
  so a tampered document cannot send users to another site's login page. It fills ``authorize_url`` only
  when none is configured; a document without one leaves it empty (a connect flow then says so).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import Iterable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from ..egress.endpoint_policy import DEFAULT_POLICY, EndpointPolicy, Target
from ..errors import ConfigError, UnsafeEndpoint
from ..provider import Provider, reserved_in_query

P = TypeVar("P", bound=Provider)

#: Largest discovery document read (decoded); a longer one is refused without being read whole.
MAX_DOCUMENT_BYTES = 64 * 1024
#: Deadline of one discovery exchange (connect, headers and the whole body), seconds.
DISCOVERY_TIMEOUT = 10.0


def metadata_urls(issuer: str) -> list[str]:
    parts = urlsplit(issuer)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"issuer {issuer!r} must be an http(s) URL without query or fragment")
    base = f"{parts.scheme}://{parts.netloc}"
    path = parts.path.rstrip("/")
    return [
        f"{base}/.well-known/oauth-authorization-server{path}",
        f"{base}{path}/.well-known/openid-configuration",
    ]


class _TooLarge(Exception):
    pass


async def _fetch(client: httpx.AsyncClient, url: str, max_bytes: int) -> tuple[int, bytes]:
    """(status, body) of a GET, the body read as a stream and refused beyond ``max_bytes``."""
    async with client.stream("GET", url, headers={"Accept": "application/json"}) as resp:
        if resp.status_code != 200:
            return resp.status_code, b""
        declared = resp.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise _TooLarge
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.aiter_bytes():  # decoded: a compressed bomb is bounded too
            size += len(chunk)
            if size > max_bytes:
                raise _TooLarge
            chunks.append(chunk)
        return resp.status_code, b"".join(chunks)


async def discover(
    issuer: str,
    client: httpx.AsyncClient,
    *,
    timeout: float = DISCOVERY_TIMEOUT,
    max_bytes: int = MAX_DOCUMENT_BYTES,
    policy: EndpointPolicy = DEFAULT_POLICY,
) -> dict[str, Any]:
    """The authorization server metadata of ``issuer``; its ``issuer`` must match (RFC 8414 §3.3)."""
    policy.check(issuer, "issuer")
    problems = []
    for url in metadata_urls(issuer):
        try:
            async with asyncio.timeout(timeout):
                status, body = await _fetch(client, url, max_bytes)
        except TimeoutError:
            problems.append(f"{url}: no complete answer within {timeout:g}s")
            continue
        except _TooLarge:
            problems.append(f"{url}: document larger than {max_bytes} bytes")
            continue
        except httpx.HTTPError as exc:
            problems.append(f"{url}: {exc.__class__.__name__}")
            continue
        if status != 200:
            problems.append(f"{url}: HTTP {status}")
            continue
        try:
            meta = json.loads(body)
        except (ValueError, RecursionError):
            problems.append(f"{url}: not JSON")
            continue
        if not isinstance(meta, dict) or not isinstance(meta.get("token_endpoint"), str):
            problems.append(f"{url}: no token_endpoint")
            continue
        if not isinstance(meta.get("issuer"), str) or meta["issuer"].rstrip("/") != issuer.rstrip("/"):
            problems.append(f"{url}: issuer mismatch ({str(meta.get('issuer'))[:80]!r})")
            continue
        return meta
    raise ConfigError(f"discovery for issuer {issuer!r} failed: " + "; ".join(problems))


def _origin(target: Target) -> tuple[str, str, int]:
    return target.scheme, target.name, target.effective_port


def _allowed(target: Target, allowed_hosts: Iterable[str]) -> bool:
    for entry in allowed_hosts:
        host, port = _split_entry(entry)
        if host == target.name and (not port or (port.isdigit() and int(port) == target.effective_port)):
            return True
    return False


def _split_entry(entry: str) -> tuple[str, str]:
    """(host, port) of an allowlist entry: ``host``, ``host:port``, ``[v6]`` or ``[v6]:port``."""
    entry = entry.strip().lower()
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif entry.count(":") == 1:
        host, _, port = entry.partition(":")
    else:
        host, port = entry, ""
    try:
        host = str(ipaddress.ip_address(host))
    except ValueError:
        host = host.rstrip(".")
    return host, port


def check_discovered(
    url: Any,
    field: str,
    issuer: str,
    *,
    allowed_hosts: Iterable[str] = (),
    policy: EndpointPolicy = DEFAULT_POLICY,
) -> str:
    """``url`` (a discovered endpoint) if it shares the issuer's origin or is on ``allowed_hosts`` and passes
    the policy; :class:`UnsafeEndpoint` otherwise."""
    what = f"discovered {field}"
    if not isinstance(url, str) or "{" in url or "}" in url:
        raise UnsafeEndpoint(f"{what} of issuer {issuer!r} is not a URL")
    target = policy.check(url, what)
    home = policy.check(issuer, "issuer")
    if _origin(target) != _origin(home) and not _allowed(target, allowed_hosts):
        raise UnsafeEndpoint(
            f"{what} {target.origin} is not on the issuer's origin {home.origin}; add its host to the "
            "client's provider_options.discovery_allowed_hosts if it is genuinely the issuer's"
        )
    return url


async def with_discovered_endpoints(
    provider: P,
    issuer: str,
    client: httpx.AsyncClient,
    *,
    policy: EndpointPolicy = DEFAULT_POLICY,
    timeout: float = DISCOVERY_TIMEOUT,
) -> P:
    """``provider`` with ``token_url`` (and ``revocation_url`` and ``authorize_url``, if advertised and not
    configured) taken from the issuer."""
    meta = await discover(issuer, client, policy=policy, timeout=timeout)
    hosts = provider.discovery_allowed_hosts
    update: dict[str, Any] = {
        "token_url": check_discovered(meta["token_endpoint"], "token_endpoint", issuer, allowed_hosts=hosts,
                                      policy=policy)
    }
    if not provider.revocation_url and meta.get("revocation_endpoint") is not None:
        update["revocation_url"] = check_discovered(meta["revocation_endpoint"], "revocation_endpoint", issuer,
                                                    allowed_hosts=hosts, policy=policy)
    if not provider.authorize_url and meta.get("authorization_endpoint") is not None:
        authorize = check_discovered(meta["authorization_endpoint"], "authorization_endpoint", issuer,
                                     allowed_hosts=hosts, policy=policy)
        if "#" in authorize:
            raise UnsafeEndpoint(f"discovered authorization_endpoint of issuer {issuer!r} has a fragment")
        preset = reserved_in_query(authorize)
        if preset:
            raise UnsafeEndpoint(f"discovered authorization_endpoint of issuer {issuer!r} presets {', '.join(preset)}")
        update["authorize_url"] = authorize
    return provider.model_copy(update=update)
