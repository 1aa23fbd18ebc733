"""Every registration field set to a value no default has, and the checks that each one arrived in the account's
state and KV record. Shared by the round-trip tests of every runtime (embedded, admin API, CLI, Temporal,
Cloudflare)."""

from __future__ import annotations

from typing import Any

from freshtoken.registration import Registration

ACCESS_TOKEN = "at-roundtrip-9c1e77"
TOKEN_TYPE = "DPoP"  # not the default 'Bearer'
SCOPE = "read write offline"
ACCOUNT_DATA = {"region": "eu-1"}
RT_LIFETIME = 90 * 86400.0


def every_field(client: str, refresh_token: str | None, now: float, **over: Any) -> Registration:
    """A registration with every field set (``expires_at``; see :func:`with_expires_in` for the other form)."""
    fields: dict[str, Any] = {
        "client": client, "refresh_token": refresh_token, "account_data": ACCOUNT_DATA,
        "access_token": ACCESS_TOKEN, "expires_at": now + 3600.0, "token_type": TOKEN_TYPE, "scope": SCOPE,
        "refresh_token_expires_at": now + RT_LIFETIME, "never_expires": False, "replace": False,
    }
    fields.update(over)
    return Registration(**fields)


def with_expires_in(client: str, refresh_token: str, now: float, **over: Any) -> Registration:
    """The replacing registration: ``expires_in`` instead of ``expires_at``, another token type and scope."""
    return every_field(client, refresh_token, now, expires_at=None, expires_in=1800.0, token_type="MAC",
                       scope="read", access_token=ACCESS_TOKEN + "-2", replace=True, **over)


def check(view: dict[str, Any], record: dict[str, Any] | None, reg: Registration, *,
          expires: tuple[float, float]) -> None:
    """``view``: the account's public state after registering; ``record``: its KV record (a dict); ``expires``:
    the bounds the access token's expiry must lie in (``expires_in`` counts from when the registration ran)."""
    assert view["client"] == reg.client
    assert view["account_data"] == reg.account_data
    assert view["token_type"] == reg.token_type, view
    assert view["scope"] == reg.scope, view
    assert view["refresh_token_expires_at"] == reg.refresh_token_expires_at, view
    assert view["has_refresh_token"] is (reg.refresh_token is not None)
    assert view["has_access_token"] is True
    assert "refresh_token" not in view and "access_token" not in view
    if reg.never_expires:
        assert view["status"] == "static" and view["expires_at"] is None
    else:
        assert view["status"] == "active"
        assert expires[0] - 0.001 <= view["expires_at"] <= expires[1] + 0.001, (view["expires_at"], expires)
    assert record is not None, "no KV record was written for a registration with a valid access token"
    assert record["access_token"] == reg.secret("access_token")
    assert record["token_type"] == reg.token_type
    assert record["scope"] == reg.scope
    if reg.never_expires:
        assert record["expires_at"] is None
    else:
        assert int(expires[0]) - 1 <= record["expires_at"] <= expires[1] + 1
