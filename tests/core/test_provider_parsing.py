"""Token response parsing and error classification of the default (RFC 6749) provider."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freshtoken import MalformedResponse, Misconfigured, ReauthRequired, RefreshError, RetryableError
from freshtoken.http import TokenResponse
from freshtoken.providers.generic import GenericProvider

NOW = 1_800_000_000.0
P = GenericProvider(token_url="https://auth.example/token")


def resp(status=200, body=None, headers=None, raw=None):
    data = raw if raw is not None else json.dumps(body).encode()
    return TokenResponse(status=status, headers=headers or {}, body=data)


def test_success_with_rotation_and_refresh_token_expiry():
    tokens = P.parse_response(
        resp(body={"access_token": "A", "token_type": "bearer", "expires_in": 3599, "refresh_token": "R2",
                   "refresh_token_expires_in": 15897600, "scope": "x y"}),
        NOW,
    )
    assert tokens.expires_at == NOW + 3599 and tokens.token_type == "Bearer"
    assert tokens.refresh_token.get_secret_value() == "R2"
    assert tokens.refresh_token_expires_at == NOW + 15897600 and tokens.scope == "x y"


def test_expires_in_as_numeric_string_is_accepted():
    assert P.parse_response(resp(body={"access_token": "A", "expires_in": "3600"}), NOW).expires_at == NOW + 3600


def test_missing_expiry_never_means_never_refresh():
    tokens = P.parse_response(resp(body={"access_token": "A"}), NOW)
    assert tokens.expires_at == NOW + 3600


def test_never_expiring_only_when_configured():
    p = GenericProvider(token_url="https://auth.example/token", default_lifetime=None)
    assert p.parse_response(resp(body={"access_token": "A"}), NOW).expires_at is None


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({"token_type": "bearer"}, "no access_token"),
        ({"access_token": ""}, "no access_token"),
        ({"access_token": 5}, "no access_token"),
        ({"access_token": "A", "expires_in": "soon"}, "not a number"),
        ({"access_token": "A", "expires_in": -5}, "not a positive lifetime"),
        ({"access_token": "A", "expires_in": 0}, "not a positive lifetime"),
        ({"access_token": "A", "expires_in": 10**12}, "longer than ten years"),
        ({"access_token": "A", "expires_in": True}, "boolean"),
        ({"access_token": "A", "refresh_token": 7}, "invalid refresh_token"),
    ],
)
def test_malformed_token_responses(body, fragment):
    with pytest.raises(MalformedResponse, match=fragment):
        P.parse_response(resp(body=body), NOW)


@pytest.mark.parametrize("raw", [b"<html>502 Bad Gateway</html>", b"", b"[]", b"\xff\xfe"])
def test_non_json_200_is_malformed(raw):
    with pytest.raises(MalformedResponse):
        P.parse_response(resp(raw=raw), NOW)


@pytest.mark.parametrize(
    "status, body, headers, cls",
    [
        (400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}, {}, ReauthRequired),
        (200, {"error": "invalid_grant"}, {}, ReauthRequired),
        (401, {"error": "invalid_client"}, {}, Misconfigured),
        (400, {"error": "unauthorized_client"}, {}, Misconfigured),
        (400, {"error": "temporarily_unavailable"}, {}, RetryableError),
        (429, {}, {"retry-after": "30"}, RetryableError),
        (503, None, {}, RetryableError),
        (500, {"error": "server_error"}, {}, RetryableError),
        (418, None, {}, MalformedResponse),
    ],
)
def test_error_classification(status, body, headers, cls):
    with pytest.raises(cls) as info:
        P.parse_response(resp(status, raw=json.dumps(body).encode() if body is not None else b"oops",
                              headers=headers), NOW)
    err = info.value
    assert err.status == status
    if headers.get("retry-after"):
        assert err.retry_after == 30


def test_provider_text_is_kept_but_cut():
    # The error keeps the provider's text whole (redaction must see all of it: a cut first could keep half of
    # an encoded secret); its summary, what is stored and printed, is redacted and then cut.
    long = "the provider's own words " * 200
    with pytest.raises(ReauthRequired) as info:
        P.parse_response(resp(400, {"error": "invalid_grant", "error_description": long}), NOW)
    assert info.value.description == long
    summary = info.value.summary()
    assert summary.startswith("reauth_required HTTP 400 invalid_grant: the provider's own words the")
    assert len(summary) <= 301


bodies = st.one_of(
    st.binary(max_size=300),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
        lambda c: st.lists(c, max_size=4) | st.dictionaries(
            st.sampled_from(["access_token", "expires_in", "refresh_token", "error", "error_description",
                             "token_type", "scope", "id_token", "refresh_token_expires_in", "x"]), c, max_size=6),
        max_leaves=12,
    ).map(lambda v: json.dumps(v).encode()),
)


@settings(max_examples=400, deadline=None)
@given(
    status=st.integers(100, 599),
    body=bodies,
    retry_after=st.one_of(st.none(), st.text(max_size=40)),
)
def test_any_response_yields_tokens_or_a_refresh_error(status, body, retry_after):
    headers = {} if retry_after is None else {"retry-after": retry_after}
    try:
        tokens = P.parse_response(TokenResponse(status=status, headers=headers, body=body), NOW)
    except RefreshError as exc:
        assert isinstance(str(exc), str) and exc.summary()
    else:
        assert status == 200 and tokens.access_token.get_secret_value()
        assert tokens.expires_at is None or tokens.expires_at > NOW
