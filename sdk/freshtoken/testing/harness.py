"""Driving a provider through the real :class:`~freshtoken.refresher.Refresher`, and replaying responses.

* :class:`KitRun` wires a provider to a :class:`~freshtoken.refresher.Refresher` with in-memory storage,
  an in-memory KV, a :class:`~freshtoken.clock.ManualClock` and an HTTP client whose requests all land on
  a local :class:`~freshtoken.testing.endpoint.TokenEndpoint`.
* :func:`replay` parses one recorded or documented response with the provider, without any HTTP:
  ``replay(provider, 200, {...})`` is a :class:`~freshtoken.tokens.TokenSet` or a
  :class:`~freshtoken.errors.RefreshError`.
* :func:`hostile_values` lists account-data values that must never reach a URL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import httpx
from pydantic import SecretStr

from ..client import OAuthClient
from ..clock import ManualClock
from ..errors import RefreshError
from ..http import TokenHTTP, TokenResponse
from ..kv import MemoryKV
from ..provider import Provider
from ..record import KVRecord
from ..refresher import Outcome, Refresher
from ..state import AccountState
from ..storage import MemoryStorage
from ..tokens import TokenSet
from .endpoint import RedirectTransport, TokenEndpoint

#: Virtual time every kit run starts at.
KIT_NOW = 1_800_000_000.0
KIT_CLIENT_SECRET = "kit-client-secret-7f3a9c"  # noqa: S105 - a test value, looked for in leaks


def kit_client(provider: Provider, **overrides: Any) -> OAuthClient:
    """The OAuth client the kit uses unless told otherwise: a client secret, the provider's auth method."""
    values: dict[str, Any] = {
        "name": "kit",
        "provider": provider.name,
        "client_id": "kit-client-id",
        "client_secret": SecretStr(KIT_CLIENT_SECRET),
    }
    values.update(overrides)
    return OAuthClient(**values)


def replay(
    provider: Provider,
    status: int = 200,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    *,
    now: float = KIT_NOW,
) -> TokenSet | RefreshError:
    """Parse one response as the refresher would: a TokenSet, or the RefreshError it maps to.

    ``body`` may be a dict/list (encoded as JSON), a str or bytes (taken as the raw body), or None.
    """
    if body is None:
        raw = b""
    elif isinstance(body, bytes):
        raw = body
    elif isinstance(body, str):
        raw = body.encode()
    else:
        raw = json.dumps(body).encode()
    response = TokenResponse(
        status=status, headers={k.lower(): v for k, v in (headers or {}).items()}, body=raw
    )
    try:
        return provider.parse_response(response, now)
    except RefreshError as exc:
        return exc


class KitRun:
    """One account of ``provider`` refreshed by the real Refresher against a local endpoint.

    ::

        async with KitRun(provider, endpoint, account_data={"shop": "acme.myshopify.com"}) as run:
            await run.register("rt-0")
            endpoint.script(Reply(200, {...}))
            outcome = await run.alarm()
            state = await run.state()
    """

    def __init__(
        self,
        provider: Provider,
        endpoint: TokenEndpoint,
        *,
        account_data: Mapping[str, str] | None = None,
        client: OAuthClient | None = None,
        clock: ManualClock | None = None,
        account_id: str = "acct-1",
    ) -> None:
        self.provider = provider
        self.endpoint = endpoint
        self.account_data = dict(account_data or {})
        self.client = client or kit_client(provider)
        self.clock = clock or ManualClock(KIT_NOW)
        self.storage = MemoryStorage()
        self.kv = MemoryKV(self.clock)
        self.key = f"kit:{provider.name}:{account_id}"
        self.transport = RedirectTransport(endpoint)
        self._httpx: httpx.AsyncClient | None = None
        self.refresher: Refresher | None = None

    async def __aenter__(self) -> KitRun:
        self._httpx = httpx.AsyncClient(transport=self.transport, follow_redirects=False, trust_env=False)
        self.refresher = Refresher(
            self.key,
            storage=self.storage,
            kv=self.kv,
            provider=self.provider,
            client=self.client,
            http=TokenHTTP(self._httpx),
            clock=self.clock,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._httpx is not None:
            await self._httpx.aclose()

    def _r(self) -> Refresher:
        if self.refresher is None:
            raise RuntimeError("use KitRun as 'async with KitRun(...) as run'")
        return self.refresher

    @property
    def now(self) -> float:
        return self.clock.now()

    async def register(self, refresh_token: str | None = "rt-0", **kw: Any) -> AccountState:
        kw.setdefault("account_data", self.account_data)
        return await self._r().register(refresh_token=refresh_token, **kw)

    async def alarm(self) -> Outcome:
        return await self._r().alarm()

    async def refresh_now(self) -> Outcome:
        return await self._r().refresh_now()

    async def state(self) -> AccountState:
        state = await self.storage.load()
        if state is None:
            raise AssertionError("the account has no stored state")
        return state

    async def status(self) -> dict[str, Any]:
        return await self._r().status()

    def kv_raw(self) -> str | None:
        return self.kv.get_sync(self.key)

    def kv_record(self) -> KVRecord | None:
        raw = self.kv_raw()
        return None if raw is None else KVRecord.loads(raw)

    def advance_to_alarm(self) -> float:
        """Move virtual time to the scheduled alarm; returns it."""
        at = self.storage.alarm
        if at is None:
            raise AssertionError("no alarm is scheduled")
        self.clock.set(at)
        return at

    def secrets(self, *extra: str | None) -> list[str]:
        """Every value that must never appear in an error, a status or the KV record."""
        return [s for s in (*self.client.secret_values(), *extra) if s]

    async def assert_no_secrets(self, *extra: str | None, outcome: Outcome | None = None) -> None:
        """No client secret, private key or refresh token in status, errors or KV; the access token only in KV."""
        secrets = self.secrets(*extra)
        state = await self.storage.load()
        texts = {"status": json.dumps(await self.status()) if state else ""}
        if outcome is not None:
            texts["outcome.error"] = outcome.error or ""
        texts["kv"] = self.kv_raw() or ""
        if state is not None:
            texts["state.last_error"] = state.last_error or ""
            for name in ("refresh_token", "previous_refresh_token"):
                value = getattr(state, name)
                if value is not None:
                    secrets.append(value.get_secret_value())
        access = state.access_token.get_secret_value() if state and state.access_token else None
        for where, text in texts.items():
            for secret in [*secrets, *([access] if access and where != "kv" else [])]:
                assert secret not in text, f"a secret ({secret[:3]}…) leaked into {where}"


def hostile_values(valid: str) -> list[str]:
    """Account-data values that must be refused wherever they would be put into a URL.

    ``valid`` is a value the provider accepts; the list mixes it with another host, a port, a path,
    userinfo, a query or fragment, IP addresses, encodings, whitespace and unicode lookalikes.
    """
    v = valid
    return [
        "", "evil.com", "evil.com#", "evil.com/", "evil.com?", "evil.com\\", f"evil.com#.{v}",
        f"{v}.evil.com", f"{v}.evil.com#", f"{v}:8443", f"{v}:443", f"{v}/", f"{v}/path", f"{v}/../../evil",
        f"{v}?x=1", f"{v}#frag", f"user@{v}", f"{v}@evil.com", f"user:pw@{v}", f"{v}\\@evil.com",
        "127.0.0.1", "169.254.169.254", "[::1]", "0x7f000001.", "2130706433.", "localhost:80",
        f"{v}%2eevil.com", f"{v}%2fevil", f"{v}\n", f"{v}\r\nHost: evil.com", f" {v}", f"{v} ", f"{v}\t",
        f"{v}\u3002evil\u3002com", f"{v}\uff0eevil.com", f"{v}\u200b", "\uff45\uff56\uff49\uff4c.com",
        f"{v}\u2024evil.com", "xn--80ak6aa92e.com", "\u0430" + v[1:], v + "\x00",
        # accepted only by patterns using \w, \d or IGNORECASE: Kelvin sign, long s, Arabic-Indic digit
        "\u212a" + v, "\u017f" + v, v + "\u0661",
        "a" * 300,
    ]


def unique(values: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for value in values:
        if value not in seen:
            seen.add(value)
            out.append(value)
    return out
