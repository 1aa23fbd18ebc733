"""Token endpoint discovery from an issuer: RFC 8414 metadata, then OpenID Connect discovery."""

from __future__ import annotations

from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from .errors import ConfigError
from .provider import Provider

P = TypeVar("P", bound=Provider)


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


async def discover(issuer: str, client: httpx.AsyncClient, *, timeout: float = 10.0) -> dict[str, Any]:
    """The authorization server metadata of ``issuer``; its ``issuer`` must match (RFC 8414 §3.3)."""
    problems = []
    for url in metadata_urls(issuer):
        try:
            resp = await client.get(url, timeout=timeout, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            problems.append(f"{url}: {exc.__class__.__name__}")
            continue
        if resp.status_code != 200:
            problems.append(f"{url}: HTTP {resp.status_code}")
            continue
        try:
            meta = resp.json()
        except ValueError:
            problems.append(f"{url}: not JSON")
            continue
        if not isinstance(meta, dict) or not isinstance(meta.get("token_endpoint"), str):
            problems.append(f"{url}: no token_endpoint")
            continue
        if meta.get("issuer", "").rstrip("/") != issuer.rstrip("/"):
            problems.append(f"{url}: issuer mismatch ({str(meta.get('issuer'))[:80]!r})")
            continue
        return meta
    raise ConfigError(f"discovery for issuer {issuer!r} failed: " + "; ".join(problems))


async def with_discovered_endpoints(provider: P, issuer: str, client: httpx.AsyncClient) -> P:
    """``provider`` with ``token_url`` (and ``revocation_url`` if advertised) taken from the issuer."""
    meta = await discover(issuer, client)
    update: dict[str, Any] = {"token_url": meta["token_endpoint"]}
    if not provider.revocation_url and isinstance(meta.get("revocation_endpoint"), str):
        update["revocation_url"] = meta["revocation_endpoint"]
    return provider.model_copy(update=update)
