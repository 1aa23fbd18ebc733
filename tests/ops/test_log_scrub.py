"""The log formatters' last scrub of configured secrets: every encoding redact knows is caught on the fast path
and off it (non-ASCII, invisible characters), and a line without a secret is left as it is."""

from __future__ import annotations

import base64
import json
import logging
import urllib.parse

import pytest

from freshtoken.observability.logs import JsonFormatter, TextFormatter

SECRET = "PLANTED-client-secret-4f1d9a"
FORMS = {
    "plain": SECRET,
    "upper": SECRET.upper(),
    "base64": base64.b64encode(SECRET.encode()).decode(),
    "base64url": base64.urlsafe_b64encode(b"x:" + SECRET.encode()).decode(),
    "percent": urllib.parse.quote(SECRET, safe=""),
    "zero-width inside": SECRET[:8] + "\u200b" + SECRET[8:],
    "next to non-ASCII": "é" + SECRET + "—",
}


def record(message: str, **fields: object) -> logging.LogRecord:
    r = logging.LogRecord("freshtoken.refreshes", logging.INFO, __file__, 1, message, (), None)
    if fields:
        r.freshtoken = fields
    return r


@pytest.mark.parametrize("formatter", [JsonFormatter(secrets=[SECRET]), TextFormatter(secrets=[SECRET])])
@pytest.mark.parametrize("form", sorted(FORMS))
def test_every_form_is_scrubbed(formatter: logging.Formatter, form: str) -> None:
    out = formatter.format(record(f"provider said: {FORMS[form]} (end)", error=f"echo {FORMS[form]}"))
    assert "[redacted]" in out
    visible = out.replace("\u200b", "").lower()
    assert SECRET.lower() not in visible and SECRET.lower()[:20] not in visible
    assert FORMS[form].lower() not in out.lower()
    if isinstance(formatter, JsonFormatter):
        json.loads(out)  # still one JSON object


def test_a_line_without_secret_is_unchanged() -> None:
    plain, scrubbing = JsonFormatter(), JsonFormatter(secrets=[SECRET])
    r = record("refreshed t1:generic:a (generic) generation 3", key="t1:generic:a", endpoint="127.0.0.1:8080/token")
    a, b = json.loads(plain.format(r)), json.loads(scrubbing.format(r))
    assert a == b
