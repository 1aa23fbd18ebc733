"""``requests`` auth that attaches the token of one account, read from KV on every request (imports requests)."""

from __future__ import annotations

from typing import Any

from requests.auth import AuthBase

from .reader import Reader

__all__ = ["RequestsAuth"]


class RequestsAuth(AuthBase):
    """``requests.get(url, auth=RequestsAuth(reader, "t1:google:alice"))``: sets ``Authorization`` from KV
    per request; no usable token: :class:`~freshtoken_reader.reader.Unavailable` before anything is sent."""

    def __init__(self, reader: Reader, key: str) -> None:
        self.reader = reader
        self.key = key

    def __call__(self, request: Any) -> Any:
        request.headers["Authorization"] = self.reader.authorization(self.key)
        return request
