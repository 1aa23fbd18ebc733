"""Bad responses: property-based tests (hypothesis) of response parsing and error classification, for every
installed provider plugin, over arbitrary bodies, headers and status codes.

What is tested, precisely:

1. ``provider.parse_response(TokenResponse(status, headers, body), now)`` — for every provider of
   ``freshtoken.default_plugins().providers()`` — returns a usable :class:`TokenSet` or raises a
   :class:`~freshtoken.errors.RefreshError` subclass; nothing else (no ``KeyError``, ``RecursionError``,
   ``OverflowError``...).
2. When the body carries secrets the refresher knows (the stored refresh token, the previous one, the
   access token, the client secret; one refresh token 1500 characters long, as Microsoft's are) anywhere —
   in ``error``, ``error_description``, ``message``, ``status``, nested, at any offset, raw or in any wire
   encoding of :data:`tests.security.canaries.ENCODINGS` (URL, JSON, base64, hex, zero-width characters...)
   — the error text *as the refresher stores and logs it*
   (``Refresher._error_text(exc, state)``, the exact call ``_on_failure``/``_on_reauth`` make, and
   ``Refresher._clean(str(exc), state)``) holds no secret: not whole, not in another letter case, not in any
   wire form, and no fragment of 8 or more characters (a secret cut in two by a truncation still leaks its
   first half).
   The raw ``exc.summary()`` is *not* required to be clean: providers do not know the secrets, redaction is
   the refresher's job.
3. End to end for every provider: the real :class:`Refresher` (memory storage and KV, virtual clock) sends
   a real HTTP request to a loopback :class:`~freshtoken.testing.TokenEndpoint` that answers with the
   hypothesis status, headers and body: ``alarm()`` never raises, and neither the outcome, the stored state's
   ``last_error``, the public status nor the KV record holds a secret.

4. The counterexamples hypothesis found, pinned as plain regression tests (they failed before the fixes
   in ``provider.py`` and ``errors.redact``).

Example counts are bounded so that the file runs in well under 30 s.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from freshtoken import ManualClock, MemoryKV, TokenHTTP, default_plugins
from freshtoken.errors import RefreshError
from freshtoken.http import TokenResponse
from freshtoken.provider import Provider
from freshtoken.refresher import Refresher
from freshtoken.state import AccountState
from freshtoken.storage import MemoryStorage
from freshtoken.testing import KitRun, Reply, TokenEndpoint, kit_client
from tests.security.canaries import ENCODINGS, visible, wire_forms

NOW = 1_800_000_000.0


def _secret(label: str, n: int) -> str:
    """A high-entropy token-like value (deterministic), so that a fragment of it never appears by chance."""
    out = ""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"{label}-{i}".encode()).hexdigest()
        i += 1
    # mixed case, as real tokens are (and as a provider lower-casing a field would change)
    return "".join(c.upper() if j % 3 == 0 else c for j, c in enumerate(out[:n]))


REFRESH_TOKEN = "rt-" + _secret("refresh", 61)
LONG_REFRESH_TOKEN = "M.C5" + _secret("long-refresh", 1496)  # Microsoft-sized
ACCESS_TOKEN = "at-" + _secret("access", 77)
CLIENT_SECRET = "cs~" + _secret("client", 37)
SECRETS = [REFRESH_TOKEN, LONG_REFRESH_TOKEN, ACCESS_TOKEN, CLIENT_SECRET]
FRAGMENT = 8  # no run of this many characters of a secret may survive redaction

#: Account data that validates, per account field, taken from the plugins' own conformance tests
#: (plugins/*/tests: microsoft, salesforce, shopify, zendesk). A new provider with a new field must add one.
VALID_ACCOUNT_DATA = {
    "tenant": "common",
    "my_domain": "acme.my.salesforce.com",
    "shop": "acme.myshopify.com",
    "subdomain": "acme",
    "b2c_tenant": "contoso",  # microsoft cloud = b2c
    "policy": "B2C_1_signupsignin",
    "ciam_tenant": "contoso",  # microsoft cloud = ciam
    "host": "gitlab.com",  # gitlab (its default allowed_hosts)
}
#: Options a provider cannot be built without (plugins/*/tests); a new required option must add one.
PROVIDER_OPTIONS: dict[str, dict[str, str]] = {
    "generic": {"token_url": "https://auth.example.test/oauth/token"},
    "reddit": {"user_agent": "web:io.freshtoken.fuzz:v0.1 (by /u/freshtoken_fuzz)"},
    "docusign": {"environment": "production"},
}
PROVIDER_NAMES = sorted(default_plugins().providers())


def make_provider(name: str) -> tuple[Provider, dict[str, str]]:
    provider = default_plugins().provider(name, PROVIDER_OPTIONS.get(name, {}))
    fields = set(provider.account_fields) | provider.url_fields()
    missing = fields - set(VALID_ACCOUNT_DATA)
    assert not missing, f"provider {name!r}: add a valid value for account field(s) {missing} to VALID_ACCOUNT_DATA"
    data = provider.validate_account_data({f: VALID_ACCOUNT_DATA[f] for f in fields})
    provider.token_endpoint(data)  # the URL builds
    return provider, data


def test_every_installed_provider_is_covered() -> None:
    assert len(PROVIDER_NAMES) >= 29, PROVIDER_NAMES  # generic + the 28 plugins of this repository
    assert not default_plugins().broken
    for name in PROVIDER_NAMES:
        make_provider(name)


# -- strategies ---------------------------------------------------------------------------------------------
KEYS = [
    "access_token", "refresh_token", "expires_in", "expires_at", "token_type", "scope", "id_token", "error",
    "error_description", "message", "error_uri", "ok", "authed_user", "status", "code", "reason", "object",
    "refresh_in", "ext_expires_in", "refresh_token_expires_in", "x_refresh_token_expires_in",
    "refresh_expires_in", "accessToken", "refreshToken", "expiresIn", "instance_url", "api_url", "bot_id",
    "workspace_id", "issued_at", "signature",
]
ERROR_CODES = [
    "invalid_grant", "invalid_client", "unauthorized_client", "invalid_request", "invalid_scope",
    "temporarily_unavailable", "server_error", "slow_down", "bad_refresh_token", "invalid_refresh_token",
    "token_revoked", "ratelimited", "interaction_required", "BAD_REFRESH_TOKEN", "EXPIRED_AUTHENTICATION",
]

planted = st.builds(
    lambda pre, secret, encode, post: pre + encode(secret) + post,
    st.one_of(st.just(""), st.text(max_size=20), st.integers(0, 420).map(lambda n: "x" * n)),
    st.sampled_from(range(len(SECRETS))).map(SECRETS.__getitem__),  # (indices: a short repr)
    st.one_of(st.just(ENCODINGS["raw"]), st.sampled_from(sorted(ENCODINGS)).map(ENCODINGS.__getitem__)),
    st.one_of(st.just(""), st.text(max_size=20), st.integers(0, 40).map(lambda n: " y" * n)),
)
numbers = st.one_of(
    st.integers(-5, 10**6), st.integers(), st.integers(10**300, 10**400),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(["3600", " 60 ", "1e400", "-1", "nan", ""]),
)
leaves = st.one_of(
    st.none(), st.booleans(), numbers, st.text(max_size=40), st.sampled_from(ERROR_CODES), planted,
)
json_values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=10)), inner, max_size=7),
    max_leaves=16,
)
error_objects = st.fixed_dictionaries(
    {},
    optional={
        "error": st.one_of(st.sampled_from(ERROR_CODES), planted, leaves),
        "error_description": st.one_of(planted, leaves),
        "message": st.one_of(planted, leaves),
        "status": st.one_of(st.sampled_from(ERROR_CODES), planted, leaves),
        "code": st.one_of(planted, leaves),
        "reason": st.one_of(planted, leaves),
        "ok": st.booleans(),
        "access_token": st.one_of(st.text(max_size=30), leaves),
        "expires_in": numbers,
        "refresh_in": numbers,
        "refresh_token": st.one_of(st.text(max_size=30), leaves),
        "token_type": st.one_of(st.sampled_from(["Bearer", "bearer", "bot", "", " "]), leaves),
        "authed_user": json_values,
    },
)


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value).encode()  # NaN / Infinity are emitted as JSON's common extension


bodies = st.one_of(
    st.binary(max_size=600),
    st.text(max_size=300).map(str.encode),
    json_values.map(_json_bytes),
    error_objects.map(_json_bytes),
    error_objects.map(_json_bytes),  # (twice: most leaks would hide in error fields)
    error_objects.map(lambda d: urlencode({k: str(v) for k, v in d.items()}).encode()),  # GitHub's form answers
    st.integers(1, 200_000).map(lambda n: b"[" * n),  # nesting deeper than the recursion limit
    st.integers(1, 50_000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    st.integers(300, 5000).map(lambda n: b'{"access_token":"a","expires_in":' + b"9" * n + b"}"),
)
header_values = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
headers = st.dictionaries(
    st.sampled_from(["retry-after", "content-type", "www-authenticate", "x-request-id", "date"]),
    st.one_of(
        header_values,
        st.sampled_from([
            "application/json", "application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=utf-8",
            "text/html", "120", "-5", "99999999999999", "Wed, 21 Oct 2015 07:28:00 GMT",
            "Fri, 31 Dec 9999 23:59:59 GMT", "Mon, 01 Jan 0001 00:00:00 GMT",
        ]),
    ),
    max_size=3,
)
statuses = st.one_of(st.sampled_from([200, 200, 400, 401, 403, 429, 500, 503]), st.integers(100, 599))


# -- the refresher's redaction path -------------------------------------------------------------------------
def refresher_for(
    provider: Provider, data: dict[str, str], refresh_token: str, previous: str
) -> tuple[Refresher, AccountState]:
    client = kit_client(provider, client_secret=SecretStr(CLIENT_SECRET))
    refresher = Refresher(
        f"t:{provider.name}:a", storage=MemoryStorage(), kv=MemoryKV(), provider=provider, client=client,
        http=TokenHTTP(httpx.AsyncClient()), clock=ManualClock(NOW),
    )
    state = AccountState(
        key=f"t:{provider.name}:a", client=client.name, account_data=data,
        refresh_token=SecretStr(refresh_token), previous_refresh_token=SecretStr(previous),
        access_token=SecretStr(ACCESS_TOKEN),
    )
    return refresher, state


def leaks(text: str, secrets: list[str]) -> list[str]:
    """What of ``secrets`` is visible in ``text``: whole, in another case, in a wire form (URL, JSON, base64...,
    invisible characters ignored), or a fragment of FRAGMENT chars."""
    found = []
    low = text.lower()
    seen = visible(text)
    for s in secrets:
        sl = s.lower()
        if sl in low:
            found.append(f"whole {s[:6]}…")
            continue
        form = next((f for f in wire_forms(s, "kit-client-id") if f in seen), None)
        if form is not None:
            found.append(f"encoded {form[:16]!r} of {s[:6]}…")
            continue
        for i in range(len(sl) - FRAGMENT + 1):
            if sl[i : i + FRAGMENT] in low:
                found.append(f"fragment {sl[i : i + FRAGMENT]!r} of {s[:6]}…")
                break
    return found


@pytest.mark.parametrize("name", PROVIDER_NAMES)
def test_parse_response_never_raises_anything_else_and_never_leaks(name: str) -> None:
    provider, data = make_provider(name)
    # every planted value is one the refresher knows: each of them must be redacted wherever it sits
    # (the stored refresh token is the long one in half the runs, the previous one in the other half)
    refresher, long_state = refresher_for(provider, data, LONG_REFRESH_TOKEN, REFRESH_TOKEN)
    _, short_state = refresher_for(provider, data, REFRESH_TOKEN, LONG_REFRESH_TOKEN)
    assert sorted(refresher._secrets(long_state)) == sorted(SECRETS)

    @settings(max_examples=80, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(status=statuses, headers=headers, body=bodies, long=st.booleans())
    def check(status: int, headers: dict[str, str], body: bytes, long: bool) -> None:
        response = TokenResponse(status=status, headers=headers, body=body)
        try:
            tokens = provider.parse_response(response, NOW)
        except RefreshError as exc:
            assert isinstance(exc.summary(), str) and exc.kind
            state = long_state if long else short_state
            stored = refresher._secrets(state)
            # what _on_failure / _on_reauth store and log, and the exception's own text cleaned
            for cleaned in (refresher._error_text(exc, state), refresher._clean(str(exc), state)):
                assert not leaks(cleaned, stored), (leaks(cleaned, stored), cleaned)
        else:
            assert tokens.access_token.get_secret_value()
            assert tokens.expires_at is None or (math.isfinite(tokens.expires_at) and tokens.expires_at > NOW)

    check()


# -- end to end through the refresher -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def endpoint() -> Any:
    with TokenEndpoint() as ep:
        yield ep


e2e_headers = st.dictionaries(
    st.sampled_from(["retry-after", "www-authenticate", "x-request-id"]), header_values, max_size=2
)
content_types = st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/html"])
#: No 1xx here: an informational status is not an answer, httpx waits for the final one until the timeout
#: (a hanging endpoint: tests/faults/test_slow_provider.py).
e2e_statuses = st.one_of(st.sampled_from([200, 200, 400, 401, 403, 429, 500, 503]), st.integers(200, 599))


@pytest.mark.parametrize("name", PROVIDER_NAMES)
def test_refresher_survives_any_response_without_leaking(name: str, endpoint: TokenEndpoint) -> None:
    provider, data = make_provider(name)
    provider = provider.model_copy(update={"timeout": 3.0})  # a broken exchange fails fast, not in 30 s
    client = kit_client(provider, client_secret=SecretStr(CLIENT_SECRET))

    @settings(max_examples=25, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(status=e2e_statuses, headers=e2e_headers, content_type=content_types, body=bodies)
    def check(status: int, headers: dict[str, str], content_type: str, body: bytes) -> None:
        async def scenario() -> None:
            endpoint.reset()
            async with KitRun(provider, endpoint, account_data=data, client=client) as run:
                await run.register(LONG_REFRESH_TOKEN)
                endpoint.script(Reply(status, body, headers, content_type=content_type))
                outcome = await run.alarm()  # never raises
                state = await run.state()
                texts = {
                    "outcome.error": outcome.error or "",
                    "state.last_error": state.last_error or "",
                    "status": json.dumps(await run.status()),
                }
                for where, text in texts.items():
                    found = leaks(text, [LONG_REFRESH_TOKEN, CLIENT_SECRET])
                    assert not found, (where, found, text)
                assert CLIENT_SECRET not in (run.kv_raw() or "")
                if outcome.kind == "refreshed":
                    assert state.access_token is not None and state.generation == 1
                else:  # a failure keeps the grant
                    assert state.refresh_token is not None
                    assert state.refresh_token.get_secret_value() == LONG_REFRESH_TOKEN

        asyncio.run(scenario())

    check()


# -- what the fuzzing found, pinned ---------------------------------------------------------------------------
def _cut(secret: str, code: str = "invalid_grant") -> bytes:
    """An error whose description was cut (at 300 characters, by classify_error, until the cut moved after
    redaction) just before the end of ``secret``: all but its last character were kept."""
    return _json_bytes({"error": code, "error_description": "x" * (300 - len(secret) + 1) + secret})


@pytest.mark.parametrize(
    ("name", "status", "body", "secret"),
    [
        ("generic", 200, b"[" * 5000, None),  # RecursionError escaped parse_response
        ("generic", 200, b'{"access_token":"a","expires_in":1' + b"0" * 400 + b"}", None),  # OverflowError
        ("microsoft", 200, b'{"access_token":"a","refresh_token_expires_in":1' + b"0" * 400 + b"}", None),
        ("generic", 400, _cut(REFRESH_TOKEN), REFRESH_TOKEN),  # the first half of the token was kept
        ("microsoft", 400, _cut(LONG_REFRESH_TOKEN), LONG_REFRESH_TOKEN),
        ("generic", 503, _json_bytes({"error": "x" * 200 + CLIENT_SECRET * 3}), CLIENT_SECRET),
        ("hubspot", 400, _json_bytes({"status": REFRESH_TOKEN}), REFRESH_TOKEN),  # echoed lower-cased
    ],
    ids=["deep-nesting", "huge-expires_in", "huge-refresh_token_expires_in", "secret-cut-by-truncation",
         "long-secret-cut-by-truncation", "secret-in-error-code-cut", "secret-lower-cased"],
)
def test_fuzzing_counterexamples(name: str, status: int, body: bytes, secret: str | None) -> None:
    provider, data = make_provider(name)
    refresher, state = refresher_for(provider, data, LONG_REFRESH_TOKEN, REFRESH_TOKEN)
    try:
        tokens = provider.parse_response(TokenResponse(status=status, headers={}, body=body), NOW)
    except RefreshError as exc:
        assert secret is None or secret in body.decode() or secret.lower() in exc.summary()
        for cleaned in (refresher._error_text(exc, state), refresher._clean(str(exc), state)):
            assert not leaks(cleaned, refresher._secrets(state)), cleaned
    else:
        assert secret is None and tokens.access_token.get_secret_value() == "a"
