"""Python ↔ JavaScript values for the Cloudflare runtime — the one place where they are converted.

In a Python Worker, bindings are Pyodide proxies of JS objects: ``ctx.storage.getAlarm()`` resolves to
a JS number of epoch *milliseconds* or ``null``; ``env.KV.put(key, value, options)`` wants a plain JS
object (``{expirationTtl, metadata}``), not the ``Map`` that Pyodide makes of a ``dict`` by default; JS
``undefined`` arrives as ``None`` and ``null`` as ``None`` or ``pyodide.ffi.jsnull`` depending on the
Pyodide version. Everything in :mod:`freshtoken.cloudflare` goes through these functions, so that the
same code runs in Pyodide and in CPython (tests, the workerd bridge harness).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

try:  # pragma: no cover - only inside Pyodide
    from js import Object as _JsObject  # type: ignore[import-not-found]
    from pyodide.ffi import to_js as _pyodide_to_js  # type: ignore[import-not-found]

    IN_PYODIDE = True
except ImportError:
    _JsObject = None
    _pyodide_to_js = None
    IN_PYODIDE = False

try:  # pragma: no cover - Pyodide ≥ 0.26
    from pyodide.ffi import jsnull as _jsnull  # type: ignore[import-not-found,unused-ignore]
except ImportError:
    _jsnull = None

#: Workers KV refuses an ``expirationTtl`` below this many seconds.
KV_MIN_TTL = 60
#: Workers KV refuses metadata larger than this many bytes (serialised JSON).
KV_MAX_METADATA_BYTES = 1024


# -- null / undefined / proxies -----------------------------------------------------------------------
def is_nullish(value: Any) -> bool:
    """True for JS ``undefined`` and ``null`` in every form they reach Python."""
    if value is None:
        return True
    if _jsnull is not None and value is _jsnull:
        return True
    return bool(getattr(type(value), "__js_null__", False))


def to_py(value: Any) -> Any:
    """A JS value as plain Python: ``null``/``undefined`` → None, proxies → dict/list via ``to_py()``."""
    if is_nullish(value):
        return None
    if isinstance(value, str | int | float | bool | bytes):
        return value
    convert = getattr(value, "to_py", None)
    if callable(convert):
        return convert()
    return value


def to_js(value: Any) -> Any:
    """A Python value for a JS API. In Pyodide dicts become plain JS objects (``Object.fromEntries``),
    not ``Map``s; elsewhere the value is returned as is (the bridge serialises plain dicts)."""
    if _pyodide_to_js is not None and isinstance(value, dict | list | tuple):
        return _pyodide_to_js(value, dict_converter=_JsObject.fromEntries)
    return value


def get_attr(obj: Any, name: str, default: Any = None) -> Any:
    """``obj.name`` for a JS proxy, ``obj[name]`` for a dict; ``default`` when absent or nullish."""
    if is_nullish(obj):
        return default
    if isinstance(obj, Mapping):
        value = obj.get(name)
    else:
        value = getattr(obj, name, None)
    return default if is_nullish(value) else value


# -- time ---------------------------------------------------------------------------------------------
def epoch_ms(at: float) -> int:
    """Epoch seconds (float) → the integer epoch milliseconds ``setAlarm`` takes."""
    if isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at):
        raise ValueError(f"not a finite epoch time: {at!r}")
    return round(at * 1000.0)


def epoch_seconds(ms: Any) -> float | None:
    """A JS epoch-milliseconds number (``getAlarm()``), or null → epoch seconds or None."""
    if is_nullish(ms):
        return None
    if hasattr(ms, "getTime"):  # a JS Date
        ms = ms.getTime()
    value = float(ms)
    if not math.isfinite(value):
        return None
    return value / 1000.0


# -- KV options ---------------------------------------------------------------------------------------
def kv_ttl(ttl: float | None, *, minimum: int = KV_MIN_TTL) -> int | None:
    """A TTL in whole seconds that KV accepts: rounded up, at least ``minimum`` (60 s); None stays None."""
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not math.isfinite(ttl):
        raise ValueError(f"not a finite TTL: {ttl!r}")
    return max(minimum, math.ceil(ttl))


def kv_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Metadata checked against KV's 1024-byte limit (a clear error instead of a runtime 413)."""
    if metadata is None:
        return None
    data = dict(metadata)
    size = len(json.dumps(data, separators=(",", ":")).encode("utf-8"))
    if size > KV_MAX_METADATA_BYTES:
        raise ValueError(f"KV metadata is {size} bytes; the limit is {KV_MAX_METADATA_BYTES}")
    return data


def kv_put_options(ttl: float | None = None, metadata: Mapping[str, Any] | None = None) -> Any:
    """The ``options`` argument of ``KVNamespace.put``: ``{expirationTtl, metadata}`` or None."""
    options: dict[str, Any] = {}
    seconds = kv_ttl(ttl)
    if seconds is not None:
        options["expirationTtl"] = seconds
    meta = kv_metadata(metadata)
    if meta is not None:
        options["metadata"] = meta
    return to_js(options) if options else None


def kv_text(value: Any) -> str | None:
    """A ``KVNamespace.get`` result (text type) → str or None."""
    if is_nullish(value):
        return None
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8")
    return str(value)


# -- alarms -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AlarmInfo:
    """``alarm(alarmInfo)``'s argument: how many times workerd has retried this alarm."""

    retry_count: int = 0
    is_retry: bool = False


def alarm_info(info: Any) -> AlarmInfo:
    """``alarmInfo`` (a JS object, a dict, or undefined on older runtimes) → :class:`AlarmInfo`."""
    count = get_attr(info, "retryCount", 0)
    retry = get_attr(info, "isRetry", False)
    try:
        n = int(count)
    except (TypeError, ValueError):
        n = 0
    return AlarmInfo(retry_count=max(0, n), is_retry=bool(retry) or n > 0)


# -- fetch ----------------------------------------------------------------------------------------------
def header(request: Any, name: str) -> str | None:
    """A request header (``request.headers.get(name)``), None when absent."""
    headers = get_attr(request, "headers")
    if headers is None:
        return None
    value = headers.get(name)
    return None if is_nullish(value) else str(value)


def fetch_init(method: str, headers: Mapping[str, str] | None = None, body: str | None = None) -> Any:
    """The ``init`` argument of ``fetch(url, init)`` / ``stub.fetch(url, init)``."""
    init: dict[str, Any] = {"method": method}
    if headers:
        init["headers"] = dict(headers)
    if body is not None:
        init["body"] = body
    return to_js(init)


__all__ = [
    "IN_PYODIDE",
    "KV_MAX_METADATA_BYTES",
    "KV_MIN_TTL",
    "AlarmInfo",
    "alarm_info",
    "epoch_ms",
    "epoch_seconds",
    "fetch_init",
    "get_attr",
    "header",
    "is_nullish",
    "kv_metadata",
    "kv_put_options",
    "kv_text",
    "kv_ttl",
    "to_js",
    "to_py",
]
