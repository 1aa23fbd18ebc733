"""The one parser of freshtoken's KV records (standard library only): a token (v1) or a reason (v2).

Every Python reader uses it: this light package's :class:`~freshtoken_reader.reader.Reader`, the SDK's
``freshtoken.TokenReader`` and ``freshtoken.KVRecord.loads``. The JSON Schemas are published with the SDK
(``freshtoken/schemas/kv-record.v1.json``, ``kv-record.v2.json``).

* **v1, a token**: ``{"v":1,"access_token":...,"token_type":...,"expires_at":...,"scope":...,"generation":...,
  "refreshed_at":...,"extras":{...}}`` — what a gateway attaches while ``now < expires_at``.
* **v2, a reason**: ``{"v":2,"status":...,"generation":...,"since":...}`` — no token: the account cannot be
  served, and why. ``status`` is ``reauth_required`` (the grant was refused: a user must sign in again),
  ``refresh_failing`` (the token expired while refreshing failed; retrying) or ``misconfigured`` (the token
  expired; the client's configuration needs a human; retrying slowly).

A v1-only reader refuses a v2 record as a version it does not know (it has no ``access_token`` either), so a
reason is never mistaken for a token.

**A token that cannot go into a header is no token.** The gateway sends ``token_type + " " + access_token`` as
the ``Authorization`` header, so both must be printable ASCII: the access token ``1*VSCHAR`` (%x20-7E, RFC 6749
appendix A.12), the token type ``*VSCHAR``. A record holding anything else (a CR or LF, written escaped as
``\r\n``; a DEL; a non-ASCII letter) is refused as ``unsupported_version``, never handed out to be split into
two header lines. The SDK never writes one (the refresher refuses such an answer from a token endpoint).

Cheap parse: the SDK writes fields in a fixed order without whitespace, so a record exactly in that shape
(with an empty ``extras``) is read without ``json.loads`` building and checking a dict: the token by the JSON
module's own C string scanner, the short rest checked by one regular expression, and only ``expires_at`` (what
the reader checks) converted; the :class:`Token` reads its other fields from the matched text when first asked
(a lazy view: the record is validated whole before a token is handed out). The full parse and its checks cost
as much as the SQLite read itself; this costs less than half of what building every field did. The answers
are the full parse's, which takes every other record (tests/reader/ checks that both agree, field by field).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from enum import StrEnum
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any, NamedTuple

__all__ = [
    "HTTP_STATUS",
    "REASON_STATUSES",
    "TOKEN_FIELDS",
    "InvalidRecord",
    "Reason",
    "ReasonRecord",
    "Token",
    "parse",
]

TOKEN_FIELDS = frozenset({"v", "access_token", "token_type", "expires_at", "scope", "generation", "refreshed_at",
                          "extras"})
_REASON_FIELDS = frozenset({"v", "status", "generation", "since"})


class Reason(StrEnum):
    """What a reader says about a key, and what a gateway should do (:data:`HTTP_STATUS`)."""

    OK = "ok"  #: a token with enough time left: attach it
    UNKNOWN = "unknown"  #: nothing under the key: never registered, or removed
    REAUTH_REQUIRED = "reauth_required"  #: the provider refused the grant: the user must authorise again
    EXPIRED = "expired"  #: no token with enough time left: refreshing is failing (or too little time is left)
    UNSUPPORTED_VERSION = "unsupported_version"  #: a record this reader cannot read (newer version, malformed)


#: The HTTP status a gateway answers with for each reason (``ok``: go on with the request).
HTTP_STATUS: dict[Reason, int] = {
    Reason.OK: 200,
    Reason.UNKNOWN: 404,
    Reason.REAUTH_REQUIRED: 403,
    Reason.EXPIRED: 503,
    Reason.UNSUPPORTED_VERSION: 500,
}

#: A v2 record's ``status`` -> the reason a reader returns.
REASON_STATUSES: dict[str, Reason] = {
    "reauth_required": Reason.REAUTH_REQUIRED,
    "refresh_failing": Reason.EXPIRED,
    "misconfigured": Reason.EXPIRED,
}


class InvalidRecord(ValueError):
    """The text is not a record this parser knows; ``reason`` is always ``unsupported_version``."""

    reason = Reason.UNSUPPORTED_VERSION


class Token:
    """A v1 record: the access token and what goes with it. Its repr never shows the token.

    The request path reads only what it checks: a token the judge hands out has its ``access_token`` and
    ``expires_at`` read from the record's text, and the other fields are read from that text the first time
    one is asked for (the record was validated whole before the token was handed out; the answers are the
    full parse's: tests/reader/test_fast_paths.py). Compared, iterated and turned into a dict field by field.
    """

    __slots__ = ("_rest", "access_token", "expires_at")

    _fields = ("access_token", "token_type", "expires_at", "scope", "generation", "refreshed_at", "extras")

    access_token: str
    expires_at: int | None
    #: the other fields (token_type, scope, generation, refreshed_at, extras), or the record's tail match
    _rest: tuple[str, str | None, int, int, dict[str, Any]] | re.Match[str]

    def __init__(self, access_token: str, token_type: str, expires_at: int | None, scope: str | None,
                 generation: int, refreshed_at: int, extras: dict[str, Any]) -> None:
        self.access_token = access_token
        self.expires_at = expires_at
        self._rest = (token_type, scope, generation, refreshed_at, extras)

    def _other(self) -> tuple[str, str | None, int, int, dict[str, Any]]:
        rest = self._rest
        if type(rest) is tuple:
            return rest
        assert isinstance(rest, re.Match)  # the fast path's tail: read once, kept
        token_type, _, scope, generation, refreshed_at = rest.groups()
        done: tuple[str, str | None, int, int, dict[str, Any]] = (token_type, scope, int(generation),
                                                                 int(refreshed_at), {})
        self._rest = done
        return done

    @property
    def token_type(self) -> str:
        return self._other()[0]

    @property
    def scope(self) -> str | None:
        return self._other()[1]

    @property
    def generation(self) -> int:
        return self._other()[2]

    @property
    def refreshed_at(self) -> int:
        return self._other()[3]

    @property
    def extras(self) -> dict[str, Any]:
        return self._other()[4]

    @property
    def authorization(self) -> str:
        """The ``Authorization`` header value."""
        return f"{self.token_type} {self.access_token}"

    def remaining(self, now: float) -> float | None:
        """Seconds left at ``now`` (None: never expires)."""
        return None if self.expires_at is None else self.expires_at - now

    def _astuple(self) -> tuple[str, str, int | None, str | None, int, int, dict[str, Any]]:
        token_type, scope, generation, refreshed_at, extras = self._other()
        return (self.access_token, token_type, self.expires_at, scope, generation, refreshed_at, extras)

    def _asdict(self) -> dict[str, Any]:
        """The fields as a dict, without ``v``."""
        return dict(zip(self._fields, self._astuple(), strict=True))

    def as_dict(self) -> dict[str, Any]:
        """The record as written (JSON-ready), with ``v``."""
        return {"v": 1, **self._asdict()}

    def __iter__(self) -> Iterator[Any]:
        return iter(self._astuple())

    def __eq__(self, other: object) -> bool:
        if type(other) is not Token:
            return NotImplemented
        return self._astuple() == other._astuple()

    __hash__ = None  # type: ignore[assignment]  # (extras is a dict)

    def __reduce__(self) -> tuple[type[Token], tuple[Any, ...]]:
        return Token, self._astuple()

    def __repr__(self) -> str:
        return (f"Token(token_type={self.token_type!r}, expires_at={self.expires_at!r}, "
                f"generation={self.generation!r})")

    def __str__(self) -> str:
        return self.__repr__()


class ReasonRecord(NamedTuple):
    """A v2 record: why the account cannot be served. No token."""

    status: str
    generation: int
    since: int

    @property
    def reason(self) -> Reason:
        return REASON_STATUSES[self.status]


_alloc = object.__new__  # a Token without its Python-level __init__
_FAST = '{"v":1,"access_token":"'
_FAST_LEN = len(_FAST)
_STR = r'[^"\\\x00-\x1f]*'  # a JSON string's content without escapes
_VSTR = r'[ !#-\[\]-~]*'  # ... of printable ASCII only (VSCHAR without the quote and the backslash)
_INT = r"(?:0|[1-9][0-9]*)"
_FAST_TAIL = re.compile(
    rf',"token_type":"({_VSTR})","expires_at":(null|{_INT}),"scope":(?:null|"({_STR})"),'
    rf'"generation":({_INT}),"refreshed_at":({_INT}),"extras":\{{\}}\}}\Z'
)


def _fast(text: str) -> Token | None:
    """A record exactly as the SDK writes it (its field order, no whitespace, empty ``extras``): the token read
    by the JSON module's own C string scanner, the short rest checked by one regular expression, no dict built;
    the :class:`Token` gets ``access_token`` and ``expires_at``, its other fields are read when asked for. None
    for anything else (which then takes the full parse); raises ValueError where ``json.loads`` would."""
    if not text.startswith(_FAST):
        return None
    access_token, end = scanstring(text, _FAST_LEN)
    # header-safe: no escape in the token's text (then no control character: scanstring refuses raw ones), ASCII
    # (a flag, not a scan), no DEL; anything else takes the full parse, which checks the decoded token
    if not access_token or text.find("\\", _FAST_LEN, end) >= 0 or not access_token.isascii() \
            or "\x7f" in access_token:
        return None
    m = _FAST_TAIL.match(text, end)
    if m is None:
        return None
    token = _alloc(Token)
    token.access_token = access_token
    expires_at = m[2]
    token.expires_at = None if expires_at == "null" else int(expires_at)
    token._rest = m
    return token


def _int(value: Any) -> bool:
    return type(value) is int


def header_safe(value: str) -> bool:
    """Printable ASCII only (``*VSCHAR``: %x20-7E), so that the text can go into an HTTP header as it is."""
    return value.isascii() and value.isprintable()


def parse(text: str | bytes) -> Token | ReasonRecord:
    """Parse a KV value. Raises :class:`InvalidRecord` (naming what is wrong, never a value) otherwise."""
    if isinstance(text, bytes | bytearray | memoryview):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidRecord("KV record is not UTF-8") from None
    try:
        fast = _fast(text)
        if fast is not None:
            return fast
        raw = json.loads(text)
    except (ValueError, TypeError, RecursionError) as exc:
        raise InvalidRecord(f"KV record is not JSON ({exc.__class__.__name__})") from None
    if type(raw) is not dict:
        raise InvalidRecord("KV record is not a JSON object")
    v = raw.get("v")
    if v == 1 and _int(v):
        return _token(raw)
    if v == 2 and _int(v):
        return _reason(raw)
    shown = v if _int(v) else type(v).__name__
    raise InvalidRecord(f"KV record version {shown!r} is not supported (this reader knows 1 and 2)")


def _token(raw: dict[str, Any]) -> Token:
    access_token = raw.get("access_token")
    token_type = raw.get("token_type", "Bearer")
    expires_at = raw.get("expires_at", ...)
    scope = raw.get("scope")
    generation = raw.get("generation")
    refreshed_at = raw.get("refreshed_at")
    extras = raw.get("extras", {})
    if (
        type(access_token) is str and access_token and header_safe(access_token)
        and type(token_type) is str and header_safe(token_type)
        and (expires_at is None or _int(expires_at))
        and (scope is None or type(scope) is str)
        and _int(generation) and generation >= 0  # type: ignore[operator]
        and _int(refreshed_at)
        and type(extras) is dict
        and raw.keys() <= TOKEN_FIELDS
    ):
        return Token(access_token, token_type, expires_at, scope, generation, refreshed_at, extras)  # type: ignore[arg-type]
    bad = sorted(raw.keys() - TOKEN_FIELDS)
    if bad:
        raise InvalidRecord(f"KV record has unknown fields: {', '.join(map(str, bad))}")
    checks = {
        "access_token": type(access_token) is str and bool(access_token) and header_safe(access_token),
        "token_type": type(token_type) is str and header_safe(token_type),
        "expires_at": expires_at is None or _int(expires_at),
        "scope": scope is None or type(scope) is str,
        "generation": _int(generation) and generation >= 0,  # type: ignore[operator]
        "refreshed_at": _int(refreshed_at),
        "extras": type(extras) is dict,
    }
    fields = ", ".join(name for name, ok in checks.items() if not ok)
    raise InvalidRecord(f"KV record is invalid (fields: {fields})")


def _reason(raw: dict[str, Any]) -> ReasonRecord:
    status, generation, since = raw.get("status"), raw.get("generation"), raw.get("since")
    if raw.keys() == _REASON_FIELDS and type(status) is str and status in REASON_STATUSES \
            and _int(generation) and generation >= 0 and _int(since):  # type: ignore[operator]
        return ReasonRecord(status, generation, since)  # type: ignore[arg-type]
    bad = sorted(raw.keys() - _REASON_FIELDS)
    if bad:
        raise InvalidRecord(f"KV record version 2 is invalid (unknown fields: {', '.join(map(str, bad))})")
    if type(status) is str and status not in REASON_STATUSES:
        raise InvalidRecord("KV record version 2 has a status this reader does not know")
    missing = sorted(_REASON_FIELDS - raw.keys())
    what = f"missing: {', '.join(missing)}" if missing else "fields: status, generation, since"
    raise InvalidRecord(f"KV record version 2 is invalid ({what})")
