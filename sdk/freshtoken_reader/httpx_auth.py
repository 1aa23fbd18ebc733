"""``httpx.Auth`` that attaches the token of one account, read from KV on every request (imports httpx)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator

import httpx

from .reader import AsyncReader, Reader

__all__ = ["HttpxAuth"]


class HttpxAuth(httpx.Auth):
    """``httpx.Client(auth=HttpxAuth(reader, "t1:google:alice"))``: each request reads the token and sets
    ``Authorization``. No usable token: :class:`~freshtoken_reader.reader.Unavailable` (with ``.reason``
    and ``.status``) before anything is sent. A sync :class:`Reader` serves sync and async clients (a SQLite
    read takes microseconds); an :class:`AsyncReader` serves async clients only."""

    def __init__(self, reader: Reader | AsyncReader, key: str) -> None:
        self.reader = reader
        self.key = key

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if not isinstance(self.reader, Reader):
            raise TypeError("HttpxAuth with an AsyncReader needs an httpx.AsyncClient")
        request.headers["Authorization"] = self.reader.authorization(self.key)
        yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if isinstance(self.reader, AsyncReader):
            request.headers["Authorization"] = await self.reader.authorization(self.key)
        else:
            request.headers["Authorization"] = self.reader.authorization(self.key)
        yield request
