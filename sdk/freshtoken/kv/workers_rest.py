"""KV over the Cloudflare REST API, for a refresher that runs outside Workers (embedded, Temporal) and
writes the records a gateway Worker reads from its KV binding.

    PUT {base}/client/v4/accounts/{account_id}/storage/kv/namespaces/{namespace_id}/values/{key}
        ?expiration_ttl=N
    Authorization: Bearer {api token with "Workers KV Storage: Edit"}
    multipart/form-data: value=..., metadata={...}

The same limits as the binding are enforced before a request leaves: key ≤ 512 bytes, TTL ≥ 60 s,
one write per second per key (delayed and coalesced).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx

from ..cloudflare import values
from ..errors import FreshtokenError, KVError, redact
from .workers_binding import record_metadata
from .workers_limits import PROPAGATION_MARGIN, WriteGate, check_key

DEFAULT_BASE_URL = "https://api.cloudflare.com"


class KVRestError(KVError):
    """The KV REST API refused or failed a request. Never carries the API token."""

    def __init__(self, message: str, *, status: int | None = None, codes: tuple[int, ...] = ()) -> None:
        self.status = status
        self.codes = codes
        super().__init__(message)

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status == 429 or self.status >= 500


class RestKV:
    """A :class:`~freshtoken.kv.KVWriter` (and reader) over the Cloudflare KV REST API, with httpx."""

    #: Workers KV shows a write in other locations within ~60 s: a new token must be written this early.
    propagation_margin = PROPAGATION_MARGIN

    def __init__(
        self,
        *,
        account_id: str,
        namespace_id: str,
        api_token: str,
        base_url: str = DEFAULT_BASE_URL,
        client: httpx.AsyncClient | None = None,
        gate: WriteGate | None = None,
        metadata: bool = True,
        timeout: float = 10.0,
    ) -> None:
        for name, value in (("account_id", account_id), ("namespace_id", namespace_id), ("api_token", api_token)):
            if not value or not isinstance(value, str):
                raise FreshtokenError(f"Cloudflare KV REST: {name} is required")
        for name, value in (("account_id", account_id), ("namespace_id", namespace_id)):
            if not value.isalnum():
                raise FreshtokenError(f"Cloudflare KV REST: {name} must be alphanumeric")
        self._token = api_token
        self._own = client is None
        self._client = client or httpx.AsyncClient(trust_env=False, follow_redirects=False)
        self.base = (
            f"{base_url.rstrip('/')}/client/v4/accounts/{account_id}/storage/kv/namespaces/{namespace_id}"
        )
        self.gate = gate or WriteGate()
        self.metadata = metadata
        self.timeout = timeout

    async def aclose(self) -> None:
        if self._own:
            await self._client.aclose()

    def value_url(self, key: str) -> str:
        return f"{self.base}/values/{quote(check_key(key), safe='')}"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}

    async def put(self, key: str, value: str, ttl: float | None) -> None:
        url = self.value_url(key)
        params: dict[str, str] = {}
        seconds = values.kv_ttl(ttl)
        if seconds is not None:
            params["expiration_ttl"] = str(seconds)
        meta = values.kv_metadata(record_metadata(value)) if self.metadata else None

        async def write() -> None:
            if meta is not None:
                files = {"value": (None, value.encode("utf-8")), "metadata": (None, json.dumps(meta).encode())}
                request = self._client.build_request(
                    "PUT", url, params=params, files=files, headers=self._headers(), timeout=self.timeout
                )
            else:
                headers = {**self._headers(), "Content-Type": "text/plain; charset=utf-8"}
                request = self._client.build_request(
                    "PUT", url, params=params, content=value.encode("utf-8"), headers=headers,
                    timeout=self.timeout,
                )
            await self._send(request, "write")

        await self.gate.write(key, write)

    async def delete(self, key: str) -> None:
        url = self.value_url(key)

        async def remove() -> None:
            request = self._client.build_request("DELETE", url, headers=self._headers(), timeout=self.timeout)
            await self._send(request, "delete", missing_ok=True)

        await self.gate.write(key, remove)

    async def get(self, key: str) -> str | None:
        request = self._client.build_request("GET", self.value_url(key), headers=self._headers(),
                                             timeout=self.timeout)
        response = await self._send(request, "read", missing_ok=True)
        return None if response is None else response.content.decode("utf-8")

    async def _send(self, request: httpx.Request, what: str, *, missing_ok: bool = False) -> httpx.Response | None:
        try:
            response = await self._client.send(request)
        except httpx.HTTPError as exc:
            raise KVRestError(f"KV REST {what} failed ({exc.__class__.__name__})") from None
        if response.status_code == 404 and missing_ok:
            return None
        if 200 <= response.status_code < 300:
            if what == "read":
                return response
            body = _json(response)
            if isinstance(body, dict) and body.get("success") is False:
                raise self._error(what, response, body)
            return response
        raise self._error(what, response, _json(response))

    def _error(self, what: str, response: httpx.Response, body: Any) -> KVRestError:
        codes: list[int] = []
        messages: list[str] = []
        if isinstance(body, dict):
            for err in body.get("errors") or []:
                if isinstance(err, dict):
                    if isinstance(err.get("code"), int):
                        codes.append(err["code"])
                    if isinstance(err.get("message"), str):
                        messages.append(err["message"])
        detail = redact("; ".join(messages), [self._token]) if messages else ""
        text = f"KV REST {what} refused: HTTP {response.status_code}" + (f" ({detail})" if detail else "")
        return KVRestError(text, status=response.status_code, codes=tuple(codes))


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
