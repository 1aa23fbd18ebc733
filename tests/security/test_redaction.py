"""``redact`` (freshtoken.redaction, re-exported by freshtoken.errors): every wire form of a secret, fields
matched together, invisible characters skipped, redaction before the cut, unknown tokens masked, prose kept.

And the path the refresher takes: a provider's error parsed by ``Provider.parse_response`` and summarised by
``RefreshError.summary`` with the refresher's secrets (what ``last_error``, alerts and logs get).
"""

from __future__ import annotations

import base64
import json
from urllib.parse import quote_plus

import pytest
from pydantic import SecretStr

from freshtoken import ManualClock, MemoryKV, TokenHTTP
from freshtoken.client import OAuthClient
from freshtoken.errors import MAX_TEXT, RefreshError, redact
from freshtoken.http import TokenResponse
from freshtoken.providers.generic import GenericProvider
from freshtoken.refresher import Refresher
from freshtoken.state import AccountState
from freshtoken.storage import MemoryStorage
from tests.security.canaries import CLIENT_ID, CLIENT_SECRET, ENCODINGS, access_token, b64, leaks, refresh_token

RT = refresh_token(90)
AT = access_token(90)
SECRETS = [CLIENT_SECRET, RT, AT]


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
@pytest.mark.parametrize("secret", SECRETS, ids=["client_secret", "refresh_token", "access_token"])
def test_every_encoding_is_redacted_and_the_text_around_it_kept(encoding: str, secret: str) -> None:
    text = f"invalid_request: the value {ENCODINGS[encoding](secret)} was refused."
    out = redact(text, SECRETS)
    assert not leaks(out, SECRETS), out
    assert out.startswith("invalid_request: the value [redacted]") and out.endswith(" was refused."), out


@pytest.mark.parametrize("form_encoded", [False, True])
@pytest.mark.parametrize("url", [False, True])
@pytest.mark.parametrize("pad", [False, True])
def test_the_basic_pair_is_redacted(form_encoded: bool, url: bool, pad: bool) -> None:
    pair = f"{quote_plus(CLIENT_ID)}:{quote_plus(CLIENT_SECRET)}" if form_encoded else f"{CLIENT_ID}:{CLIENT_SECRET}"
    text = f"Authorization: Basic {b64(pair.encode(), url=url, pad=pad)} rejected"
    out = redact(text, [CLIENT_SECRET], client_id=CLIENT_ID, mask_tokens=False)  # no help from the mask
    assert not leaks(out, [CLIENT_SECRET]) and out.endswith(" rejected"), out


@pytest.mark.parametrize("offset", range(6))
@pytest.mark.parametrize("url", [False, True])
def test_base64_of_a_whole_body_at_any_offset(offset: int, url: bool) -> None:
    body = f"grant_type=refresh_token&refresh_token={quote_plus(RT)}&client_secret={quote_plus(CLIENT_SECRET)}"
    text = "echo: " + b64(b"#" * offset + body.encode(), url=url)
    out = redact(text, SECRETS, mask_tokens=False)
    assert not leaks(out, SECRETS), out
    assert out.count("[redacted]") >= 2


def test_mime_base64_with_line_breaks() -> None:
    body = f"refresh_token={quote_plus(RT)}&client_secret={quote_plus(CLIENT_SECRET)}".encode()
    text = base64.encodebytes(b"x" * 50 + body).decode().replace("\n", "\r\n")  # 76-character lines
    out = redact(text, SECRETS, mask_tokens=False)
    assert not leaks(out, SECRETS), out


@pytest.mark.parametrize("cut", [1, 5, 9, 15, len(CLIENT_SECRET) - 1])
def test_a_secret_split_between_error_and_description(cut: int) -> None:
    head, tail = CLIENT_SECRET[:cut], CLIENT_SECRET[cut:]
    out = redact([head, tail + " is wrong"], SECRETS)
    assert not leaks(out, SECRETS), out
    assert out.endswith(" is wrong")
    # the same through the error the provider parsing builds, summarised as the refresher does
    err = parse(400, {"error": head, "error_description": tail + " is wrong"})
    summary = err.summary(SECRETS, client_id=CLIENT_ID)
    assert not leaks(summary, SECRETS), summary
    assert summary.startswith("misconfigured HTTP 400 ")


@pytest.mark.parametrize("mark", ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u202e", "\u2063",
                                  "\n", "\x00", "\u034f", "\ufe0f", "\u3164"])
def test_invisible_characters_between_the_characters(mark: str) -> None:
    text = "bad: " + mark.join(quote_plus(CLIENT_SECRET)) + " end"
    out = redact(text, SECRETS)
    assert not leaks(out, SECRETS) and "C?a?n" not in out, repr(out)
    assert out == "bad: [redacted] end", repr(out)


def test_redaction_happens_before_the_cut() -> None:
    for enc in ("raw", "quote_plus", "base64", "zero-width-space", "hex"):
        for filler in range(MAX_TEXT - 40, MAX_TEXT + 5):
            out = redact("x" * filler + " " + ENCODINGS[enc](CLIENT_SECRET) + " tail", SECRETS)
            assert len(out) <= MAX_TEXT + 1
            assert not leaks(out, SECRETS), (enc, filler, out[-40:])


def test_refresh_error_summary_is_redacted_before_it_is_cut() -> None:
    err = parse(400, {"error": "invalid_request", "error_description": "x" * 250 + " " + quote_plus(RT)})
    summary = err.summary(SECRETS)
    assert len(summary) <= MAX_TEXT + 1 and not leaks(summary, SECRETS), summary


@pytest.mark.parametrize("token", [
    "u7Q2kLz9Xc4Vb8Nm1As5Df3Gh6Jk0Pq2Wr4Et7Yu9Io1",  # opaque
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk",  # a JWT
    "gho_16C7e42F292c6912E7710c838347Ae178B4a",  # a GitHub token
    "1//0gLq8Zk3Tb9Vx7Yw5Rt3Qp1Mn-L9k7J5h3G1f_Dd8Ss6Aa4",  # a Google refresh token
    base64.b64encode(bytes(range(40))).decode(),
])
def test_unknown_token_like_runs_are_masked(token: str) -> None:
    out = redact(f"the token {token} is not valid for this client", [])
    assert token not in out and token[:12] not in out, out
    assert out == "the token [masked] is not valid for this client"


@pytest.mark.parametrize("prose", [
    "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client "
    "secret value, not the client secret ID. Trace ID: 0f2c1a6e-3d2b-4b5c-9a7e-1f2e3d4c5b6a Correlation ID: "
    "5b6a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d Timestamp: 2024-05-01 10:11:12Z",
    "AADSTS700082: The refresh token has expired due to inactivity. See "
    "https://login.microsoftonline.com/common/oauth2/v2.0/authorize for details",
    "Token has been expired or revoked.",
    "expired access/refresh token",
    "The provided authorization grant (e.g., authorization code, resource owner credentials) or refresh token "
    "is invalid, expired, revoked, does not match the redirection URI used in the authorization request",
    "invalid_grant: refresh_token is malformed (see https://developer.intuit.com/app/developer/qbo/docs)",
    "Rate limit exceeded; retry after 2024-05-01T10:11:12.000+00:00 (x-request-id a1b2c3d4e5f6a7b8)",
])
def test_provider_prose_survives(prose: str) -> None:
    assert redact(prose, SECRETS, limit=None) == prose


def test_unprintable_characters_are_neutralised() -> None:
    assert redact("line one\nline two\x1b[31m\u200bred\u202e") == "line one?line two?[31mred"


def test_no_secret_no_change_and_short_values_ignored() -> None:
    assert redact("hello world", ["abc", None, ""]) == "hello world"  # shorter than 4: not looked for


def test_errors_module_reexports_the_one_redaction() -> None:
    from freshtoken import errors, redaction

    assert errors.redact is redaction.redact


def test_refresher_stores_the_jointly_redacted_summary() -> None:
    """The refresher's own path: the code and description of a RefreshError, with the secrets it knows."""
    provider = GenericProvider(token_url="https://auth.example.test/token")
    client = OAuthClient(name="c", provider="generic", client_id=CLIENT_ID,
                         client_secret=SecretStr(CLIENT_SECRET))
    refresher = Refresher("t:generic:a", storage=MemoryStorage(), kv=MemoryKV(), provider=provider,
                          client=client, http=TokenHTTP(), clock=ManualClock(0))
    state = AccountState(key="t:generic:a", client="c", refresh_token=SecretStr(RT), access_token=SecretStr(AT))
    basic = b64(f"{quote_plus(CLIENT_ID)}:{quote_plus(CLIENT_SECRET)}".encode())
    err = parse(401, {"error": RT[:12], "error_description": f"{RT[12:]} / Basic {basic}"})
    text = refresher._error_text(err, state)
    assert not leaks(text, SECRETS), text


def parse(status: int, body: object) -> RefreshError:
    provider = GenericProvider(token_url="https://auth.example.test/token")
    try:
        provider.parse_response(TokenResponse(status=status, headers={}, body=json.dumps(body).encode()), 0.0)
    except RefreshError as exc:
        return exc
    raise AssertionError("not an error")


def test_the_mask_stops_at_a_field_boundary() -> None:
    """A provider's code stays readable beside a token-like description (fields are masked one by one)."""
    assert redact(["invalid_grant", "x" * 50 + " expired"]) == "invalid_grant: [masked] expired"
