"""Python ↔ JS value conversions (CPython side; the same functions run in Pyodide)."""

from __future__ import annotations

import math

import pytest

from freshtoken.cloudflare import values
from freshtoken.cloudflare.values import AlarmInfo

from .harness import JS_NULL, JsObject


def test_null_and_undefined_in_every_form():
    assert values.is_nullish(None)  # JS undefined (and null in older Pyodide)
    assert values.is_nullish(JS_NULL)  # pyodide.ffi.jsnull
    assert not values.is_nullish(0) and not values.is_nullish("") and not values.is_nullish(False)
    assert values.to_py(JS_NULL) is None and values.to_py(None) is None
    assert values.to_py(JsObject({"a": 1, "b": None})) == {"a": 1, "b": None}
    assert values.to_py("x") == "x" and values.to_py(5) == 5


def test_epoch_milliseconds_both_ways():
    assert values.epoch_ms(1_800_000_000.1234) == 1_800_000_000_123
    assert values.epoch_ms(0) == 0
    assert values.epoch_seconds(1_800_000_000_123) == pytest.approx(1_800_000_000.123)
    assert values.epoch_seconds(JS_NULL) is None and values.epoch_seconds(None) is None
    assert values.epoch_seconds(float("nan")) is None
    for bad in (math.inf, math.nan, True, "1"):
        with pytest.raises(ValueError):
            values.epoch_ms(bad)  # type: ignore[arg-type]
    # a round trip through setAlarm/getAlarm loses at most half a millisecond
    t = 1_795_748_698.6187
    assert abs(values.epoch_seconds(values.epoch_ms(t)) - t) <= 0.0005  # type: ignore[operator]


class _Date:
    def getTime(self) -> float:
        return 1_000.0


def test_epoch_seconds_accepts_a_js_date():
    assert values.epoch_seconds(_Date()) == 1.0


def test_kv_ttl_is_whole_seconds_and_never_below_kv_floor():
    assert values.kv_ttl(None) is None
    assert values.kv_ttl(3600) == 3600
    assert values.kv_ttl(3599.2) == 3600  # rounded up: never expires before the token
    assert values.kv_ttl(30) == 60 and values.kv_ttl(0) == 60 and values.kv_ttl(-5) == 60
    assert values.kv_ttl(60.0001) == 61
    with pytest.raises(ValueError):
        values.kv_ttl(math.inf)


def test_kv_put_options_is_a_plain_object_with_js_names():
    assert values.kv_put_options(None, None) is None
    assert values.kv_put_options(3000.5) == {"expirationTtl": 3001}
    assert values.kv_put_options(10, {"v": 1, "generation": 2}) == {
        "expirationTtl": 60, "metadata": {"v": 1, "generation": 2}
    }
    assert values.kv_put_options(None, {"v": 1}) == {"metadata": {"v": 1}}
    with pytest.raises(ValueError, match="1024"):
        values.kv_put_options(60, {"x": "y" * 1100})


def test_kv_text():
    assert values.kv_text(JS_NULL) is None and values.kv_text(None) is None
    assert values.kv_text("abc") == "abc" and values.kv_text(b"\xc3\xa9") == "é"


def test_alarm_info_from_every_shape():
    assert values.alarm_info(None) == AlarmInfo(0, False)  # older runtimes pass nothing
    assert values.alarm_info(JS_NULL) == AlarmInfo(0, False)
    assert values.alarm_info({"retryCount": 2, "isRetry": True}) == AlarmInfo(2, True)
    assert values.alarm_info(JsObject({"retryCount": 1, "isRetry": True})) == AlarmInfo(1, True)
    assert values.alarm_info(JsObject({"retryCount": 3})) == AlarmInfo(3, True)
    assert values.alarm_info({"retryCount": "junk"}) == AlarmInfo(0, False)
    assert values.alarm_info({"retryCount": -1}) == AlarmInfo(0, False)


class _Headers:
    def __init__(self, d: dict[str, str]) -> None:
        self.d = {k.lower(): v for k, v in d.items()}

    def get(self, name: str) -> object:
        return self.d.get(name.lower(), JS_NULL)  # JS Headers.get returns null when absent


class _Request:
    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = _Headers(headers)


def test_header_and_fetch_init():
    req = _Request({"Authorization": "Bearer x"})
    assert values.header(req, "authorization") == "Bearer x"
    assert values.header(req, "x-missing") is None
    assert values.fetch_init("GET") == {"method": "GET"}
    assert values.fetch_init("POST", {"a": "b"}, "{}") == {"method": "POST", "headers": {"a": "b"}, "body": "{}"}


def test_get_attr_on_dicts_proxies_and_nulls():
    assert values.get_attr({"a": 1}, "a") == 1
    assert values.get_attr({"a": None}, "a", 7) == 7
    assert values.get_attr(JsObject({"a": None}), "a", 7) == 7
    assert values.get_attr(JS_NULL, "a", 7) == 7
    assert values.get_attr(object(), "a") is None


def test_to_js_is_identity_outside_pyodide():
    assert not values.IN_PYODIDE
    d = {"expirationTtl": 60}
    assert values.to_js(d) is d
