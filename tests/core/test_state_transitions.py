"""The state's own transitions (begin_attempt, apply_tokens, record_failure, mark_reauth): no I/O, each tested
on its own; and the module layering they rely on (state and storage do not import each other)."""

from __future__ import annotations

import ast
import random
from pathlib import Path

from pydantic import SecretStr

import freshtoken
from freshtoken.errors import Misconfigured, ReauthRequired, RetryableError
from freshtoken.retry import RetryPolicy
from freshtoken.state import AccountState, Status
from freshtoken.tokens import TokenSet

SDK = Path(freshtoken.__file__).parent
POLICY = RetryPolicy(base=10, cap=100, min_delay=1, alert_after=3, misconfigured_delay=900)


def state(**kw: object) -> AccountState:
    base: dict[str, object] = {"key": "t:generic:a", "client": "c", "refresh_token": SecretStr("rt-1")}
    return AccountState.model_validate({**base, **kw})


def tokens(**kw: object) -> TokenSet:
    base: dict[str, object] = {"access_token": SecretStr("at-2"), "issued_at": 1000.0, "expires_at": 4600.0}
    return TokenSet.model_validate({**base, **kw})


# -- begin_attempt ----------------------------------------------------------------------------------------------
def test_begin_attempt_marks_in_flight_and_reports_an_expired_token_once() -> None:
    s = state(expires_at=500.0)
    assert s.begin_attempt(400.0) is None  # not expired yet
    assert (s.in_flight_since, s.last_attempt_at) == (400.0, 400.0)
    assert s.begin_attempt(600.0) == 500.0
    assert s.alerted_expired
    assert s.begin_attempt(700.0) is None  # alerted already
    assert state(expires_at=None).begin_attempt(10**9) is None  # a never-expiring token does not expire


# -- apply_tokens -----------------------------------------------------------------------------------------------
def test_apply_tokens_rotation_keeps_the_previous_refresh_token() -> None:
    s = state(generation=4, refresh_count=2)
    rotated = s.apply_tokens(tokens(refresh_token=SecretStr("rt-2")), 1001.0, lead=600, margin=60)
    assert rotated
    assert s.refresh_token is not None and s.refresh_token.get_secret_value() == "rt-2"
    assert s.previous_refresh_token is not None and s.previous_refresh_token.get_secret_value() == "rt-1"
    assert s.rotated_at == 1001.0
    assert (s.generation, s.refresh_count, s.status) == (5, 3, Status.ACTIVE)
    assert s.next_refresh_at == 4600.0 - 600  # lead before expiry


def test_apply_tokens_without_a_refresh_token_keeps_the_stored_one_and_the_scope() -> None:
    s = state(scope="read", previous_refresh_token=SecretStr("rt-0"))
    assert not s.apply_tokens(tokens(), 1001.0, lead=600, margin=60)
    assert s.refresh_token is not None and s.refresh_token.get_secret_value() == "rt-1"
    assert s.previous_refresh_token is not None and s.previous_refresh_token.get_secret_value() == "rt-0"
    assert s.scope == "read"
    assert not s.apply_tokens(tokens(refresh_token=SecretStr("rt-1"), scope="write"), 1002.0, lead=600, margin=60)
    assert s.scope == "write"


def test_apply_tokens_clears_the_failure_record_and_the_alerts() -> None:
    s = state(status=Status.RETRYING, failures=5, last_error="x", last_error_kind="retryable", in_flight_since=9.0,
              alerted_failures=True, alerted_expired=True, alerted_reauth=True)
    s.apply_tokens(tokens(extras={"instance_url": "https://i"}), 1001.0, lead=600, margin=60)
    assert (s.failures, s.last_error, s.last_error_kind, s.in_flight_since) == (0, None, None, None)
    assert not (s.alerted_failures or s.alerted_expired or s.alerted_reauth)
    assert s.last_success_at == 1001.0
    assert s.extras == {"instance_url": "https://i"}
    assert s.access_token is not None and s.access_token.get_secret_value() == "at-2"


def test_apply_tokens_never_expiring_is_static_with_no_next_refresh() -> None:
    s = state()
    s.apply_tokens(tokens(expires_at=None), 1001.0, lead=600, margin=60)
    assert (s.status, s.next_refresh_at) == (Status.STATIC, None)


def test_apply_tokens_short_token_honours_margin_and_hint() -> None:
    s = state()
    s.apply_tokens(tokens(issued_at=1000.0, expires_at=1300.0), 1000.0, lead=600, margin=60)
    assert s.next_refresh_at == 1150.0  # half-way through a short life
    s.apply_tokens(tokens(issued_at=1000.0, expires_at=4600.0, refresh_hint=2000.0), 1000.0, lead=600, margin=60)
    assert s.next_refresh_at == 2000.0  # the provider's earlier hint


def test_apply_tokens_refresh_token_expiry_alert_rearms_only_on_rotation_or_first_expiry() -> None:
    s = state(refresh_token_expires_at=5000.0, alerted_refresh_token_expiry=True)
    s.apply_tokens(tokens(refresh_token_expires_at=6000.0), 1001.0, lead=600, margin=60)
    assert s.alerted_refresh_token_expiry  # same grant, a new expiry: already alerted for it
    assert s.refresh_token_expires_at == 6000.0
    s.apply_tokens(tokens(refresh_token=SecretStr("rt-9"), refresh_token_expires_at=7000.0), 1002.0, lead=600,
                   margin=60)
    assert not s.alerted_refresh_token_expiry  # a rotated grant: alert again when it nears its end
    fresh = state(alerted_refresh_token_expiry=True)
    fresh.apply_tokens(tokens(refresh_token_expires_at=7000.0), 1001.0, lead=600, margin=60)
    assert not fresh.alerted_refresh_token_expiry  # the first expiry we learn of


# -- record_failure ---------------------------------------------------------------------------------------------
def test_record_failure_retryable_backs_off_and_alerts_once_at_the_threshold() -> None:
    s = state(in_flight_since=100.0)
    alerts = []
    for i in range(5):
        retry_at, alert = s.record_failure(RetryableError("boom"), 100.0 * i, error=f"e{i}", policy=POLICY,
                                           rng=random.Random(i))
        alerts.append(alert)
        assert s.next_refresh_at == retry_at
        assert 100.0 * i + POLICY.min_delay <= retry_at <= 100.0 * i + POLICY.ceiling(i + 1)
    assert alerts == [False, False, True, False, False]
    assert (s.status, s.failures, s.last_error, s.last_error_kind, s.in_flight_since) == (
        Status.RETRYING, 5, "e4", "retryable", None)


def test_record_failure_honours_retry_after() -> None:
    s = state()
    retry_at, _ = s.record_failure(RetryableError("slow down"), 0.0, error="e", policy=POLICY, rng=random.Random(1))
    assert retry_at <= POLICY.ceiling(1)
    retry_at, _ = state().record_failure(RetryableError("slow down", retry_after=3000.0), 0.0, error="e", policy=POLICY, rng=random.Random(1))
    assert retry_at == 3000.0


def test_record_failure_misconfigured_alerts_at_once_and_retries_slowly() -> None:
    s = state()
    retry_at, alert = s.record_failure(Misconfigured("invalid_client"), 50.0, error="e", policy=POLICY,
                                       rng=random.Random(0))
    assert (retry_at, alert, s.status) == (950.0, True, Status.MISCONFIGURED)
    _, again = s.record_failure(Misconfigured("invalid_client"), 950.0, error="e", policy=POLICY,
                                rng=random.Random(0))
    assert not again


# -- mark_reauth ------------------------------------------------------------------------------------------------
def test_mark_reauth_stops_the_schedule_and_is_first_only_once() -> None:
    s = state(next_refresh_at=10.0, in_flight_since=5.0)
    assert s.mark_reauth(ReauthRequired("invalid_grant"), error="invalid_grant: revoked")
    assert (s.status, s.next_refresh_at, s.in_flight_since, s.failures) == (Status.REAUTH_REQUIRED, None, None, 1)
    assert (s.last_error, s.last_error_kind) == ("invalid_grant: revoked", "reauth_required")
    assert not s.mark_reauth(ReauthRequired("invalid_grant"), error="again")
    assert s.failures == 2


# -- layering ---------------------------------------------------------------------------------------------------
def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, TYPE_CHECKING blocks included, relative names resolved in freshtoken."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            name = node.module or ""
            found.add(f"freshtoken.{name}" if node.level == 1 else name)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_state_does_not_import_storage() -> None:
    """storage.py imports state.py (its contract is about AccountState); the reverse would be a cycle."""
    state_imports = imported_modules(SDK / "state.py")
    assert "freshtoken.storage" not in state_imports
    assert "freshtoken.codec" in state_imports  # the codec contract has its own module
    from freshtoken import codec, storage

    assert storage.SecretCodec is codec.SecretCodec and storage.PlaintextCodec is codec.PlaintextCodec
