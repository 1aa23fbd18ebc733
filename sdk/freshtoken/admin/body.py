"""Request bodies: read with a limit while they stream (never buffered whole first), parsed as JSON with a
nesting limit (deep nesting is a clear 400, not a ``RecursionError``), validated by a model (a 422 naming every
field); and boolean query flags."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

#: Largest request body read, in bytes.
MAX_BODY = 64 * 1024
#: Deepest JSON nesting accepted (a registration is two levels deep).
MAX_DEPTH = 64


class BodyError(Exception):
    """A body refused: ``status`` (413 or 400), ``code`` and a message naming what was wrong."""

    def __init__(self, status: int, code: str, message: str) -> None:
        self.status, self.code, self.message = status, code, message
        super().__init__(message)


async def read_limited(content_length: str | None, chunks: AsyncIterator[bytes], limit: int = MAX_BODY) -> bytes:
    """The body, refused (413) as soon as it is known to exceed ``limit``: from ``Content-Length`` before reading
    anything, else while counting the streamed chunks."""
    too_large = BodyError(413, "too_large", f"request body is larger than {limit} bytes")
    if content_length is not None:
        text = content_length.strip()
        if not text.isdigit():
            raise BodyError(400, "invalid_request", "Content-Length is not a number")
        if int(text) > limit:
            raise too_large
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise too_large
        parts.append(chunk)
    return b"".join(parts)


def too_deep(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """True when the JSON text nests arrays / objects deeper than ``limit`` (brackets inside strings ignored)."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return False


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """Strict JSON (no NaN / Infinity); :class:`BodyError` 400 when malformed or nested too deep."""
    if too_deep(raw, max_depth):
        raise BodyError(400, "invalid_json", f"request body is JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise BodyError(400, "invalid_json",
                        f"request body is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BodyError(400, "invalid_json", "request body is not valid JSON") from None


class InvalidBody(Exception):
    """A JSON body that does not validate: a 422 ``invalid_body`` naming every field (never a value)."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        self.problems = problems
        self.message = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        super().__init__(self.message)


M = TypeVar("M", bound=BaseModel)


def validate_body(model: type[M], raw: Any) -> M:
    """``raw`` (parsed JSON) as ``model``; :class:`InvalidBody` with every problem otherwise."""
    from ..registration import validation_problems

    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise InvalidBody(validation_problems(exc)) from None


def query_flag(value: str | None, name: str) -> bool:
    """A boolean query parameter (``true/1/yes``, ``false/0/no``, absent = false); a 400 otherwise."""
    if value is None:
        return False
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no", ""):
        return False
    raise BodyError(400, "invalid_query", f"{name} must be true or false")
