"""The refresher: one runtime-agnostic state machine per account.

A runtime (embedded host, Durable Object, Temporal workflow) gives it storage with one alarm, a KV writer,
a clock, an HTTP client and the provider, and guarantees that calls for one account never overlap. The
alarm does, in this order:

1. load the state;
2. refresh at the provider;
3. on success: persist the new state (a rotated refresh token) *first*; then write the KV record
   (TTL = time to expiry); then set the next alarm (``expiry - lead``, or earlier where an
   :class:`~freshtoken.alarm_planner.AlarmPlanner` spreads a herd under capacity). A save that fails is retried with
   backoff, the answer kept in memory (and rescued in the storage's recovery store, when it has one) and
   alerted on, before anything else touches the account (:meth:`Refresher._persist_answer`);
4. on a retryable failure: back off with jitter (``Retry-After`` honoured), count, alert at the threshold,
   alert again when the token in KV expires;
5. on ``invalid_grant``: stop, keep the state for inspection, alert once;
6. on misconfiguration: alert, retry slowly so that a fixed configuration heals.

It is idempotent: an alarm that runs again (at-least-once delivery, retried alarm) while the token is
still fresh rewrites the KV record from state and re-arms, without calling the provider.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

from pydantic import SecretStr

from .alarm_planner import AlarmPlanner
from .client import OAuthClient
from .clock import Clock, SystemClock
from .echo import echoed
from .errors import (
    AccountExists,
    ConfigError,
    FreshtokenError,
    MalformedResponse,
    Misconfigured,
    NotRegistered,
    ProviderMismatch,
    ReauthRequired,
    RefreshError,
    RetryableError,
    StateConflict,
    redact,
)
from .events import (
    AccountRecovered,
    AccountRegistered,
    AccountRemoved,
    Event,
    ReauthRequiredEvent,
    RefreshFailed,
    RefreshSucceeded,
    RefreshTokenExpiring,
    RotatedTokenNotDurable,
    TokenExpired,
    endpoint_label,
)
from .header_safe import refusal, unsendable
from .http import TokenHTTP
from .keys import AccountKey
from .kv import KVWriter, propagation_margin, ttl_until
from .lead import refresh_at
from .outcome import Outcome as Outcome  # re-exported: its home is freshtoken.outcome
from .outcome import OutcomeKind as OutcomeKind
from .plugins import Plugins
from .provider import Provider
from .record import EXPIRED_LINGER, reason_record, token_record
from .registration import Registration, registration_of
from .retry import RetryPolicy
from .state import AccountState, Status
from .storage import AccountStorage
from .strategies import Exchange, Strategy, strategy_from
from .tokens import TokenSet

log = logging.getLogger("freshtoken.refresher")

#: Warn this long before a refresh token itself lapses (Intuit's 100 days, GitHub's 6 months...).
REFRESH_TOKEN_WARNING = 14 * 86400.0
#: An alarm that fires this early (clock skew) is treated as due.
EARLY_TOLERANCE = 1.0
#: Retries of a failed save of a provider's answer: the backoff ceiling doubles from the base up to the cap
#: (seconds), with jitter; they go on until the save succeeds or the account is superseded.
SAVE_RETRY_BASE = 0.5
SAVE_RETRY_CAP = 30.0


class Refresher:
    """The refresher of one account. Cheap to construct: runtimes make one per event."""

    def __init__(
        self,
        key: AccountKey | str,
        *,
        storage: AccountStorage,
        kv: KVWriter,
        provider: Provider,
        client: OAuthClient,
        http: TokenHTTP,
        clock: Clock | None = None,
        plugins: Plugins | None = None,
        rng: random.Random | None = None,
        kv_key: str | None = None,
        kv_margin: float | None = None,
        planner: AlarmPlanner | None = None,
    ) -> None:
        self.key = key if isinstance(key, AccountKey) else AccountKey.parse(key)
        self.storage = storage
        self.kv = kv
        self.provider = provider
        self.client = client
        self.http = http
        self.clock = clock or SystemClock()
        self.plugins = plugins
        self.rng = rng or random.Random()
        self.kv_key = kv_key or str(self.key)
        #: How long before expiry a new token must be in KV (Workers KV: 60 s to propagate); by default the KV's
        #: own ``propagation_margin`` (:func:`freshtoken.kv.propagation_margin`).
        self.kv_margin = propagation_margin(kv) if kv_margin is None else kv_margin
        #: Where the next alarm goes at or before its deadline (None: at the deadline; see alarm_planner.py).
        self.planner = planner

    # -- operations -------------------------------------------------------------------------------
    async def register(self, registration: Registration | None = None, /, **fields: Any) -> AccountState:
        """Register the account (a :class:`~freshtoken.registration.Registration`, or its fields as keywords;
        ``client`` defaults to this refresher's). Schedules a refresh at once unless a valid token is given.

        ``never_expires`` with an access token registers a static token: written to KV without TTL,
        no alarm.

        An account that exists and is not ``reauth_required`` is only overwritten with ``replace`` (else
        :class:`AccountExists`, nothing changed); once the new state is stored, the replaced refresh token is
        revoked (RFC 7009, where the provider has a revocation endpoint) if it differs from the new one. The key's
        provider part must name the client's provider or the client (else :class:`ProviderMismatch`) unless the
        client sets ``provider_mismatch_ok``.
        """
        if registration is None:
            fields.setdefault("client", self.client.name)
        reg = registration_of(registration, fields)
        if reg.client != self.client.name:
            raise ConfigError(f"register: the registration names client {reg.client!r}, this refresher runs "
                              f"client {self.client.name!r}")
        now = self.clock.now()
        refresh_token, access_token = reg.secret("refresh_token"), reg.secret("access_token")
        never_expires, replace, expires_at = reg.never_expires, reg.replace, reg.expiry(now)
        self._check_key_provider()
        data = self.provider.validate_account_data(reg.account_data)
        strategy = self._strategy_for_account(reg.strategy, data)
        if not strategy.uses_refresh_token and refresh_token is not None:
            raise ConfigError(f"register: strategy {reg.strategy!r} gets tokens with the client's own credential; "
                              "an account of it holds no refresh token (leave refresh_token out)")
        if strategy.uses_refresh_token and refresh_token is None and not (never_expires and access_token):
            raise ReauthRequired("register: a refresh token is required (or a never-expiring access token)")
        old = await self.storage.load()
        live = old is not None and old.status is not Status.REAUTH_REQUIRED
        if old is not None and live and not replace:
            raise AccountExists(
                f"account {str(self.key)!r} is already registered (status {old.status.value}, client "
                f"{old.client!r}); registering again would replace its working grant: pass replace=True "
                "(CLI: accounts add --replace; admin API: POST /accounts?replace=true)"
            )
        state = AccountState(
            key=str(self.key),
            client=self.client.name,
            account_data=data,
            strategy=reg.strategy,
            refresh_token=SecretStr(refresh_token) if refresh_token else None,
            refresh_token_expires_at=reg.refresh_token_expires_at,
            token_type=reg.token_type,
            scope=reg.scope,
            registered_at=now,
            generation=old.generation if old else 0,
        )
        usable = access_token is not None and (
            never_expires or (expires_at is not None and expires_at - now > self.kv_margin)
        )
        if usable:
            state.access_token = SecretStr(access_token or "")
            state.issued_at = now
            state.expires_at = None if never_expires else expires_at
            state.generation += 1
            state.status = Status.STATIC if never_expires else Status.ACTIVE
            state.next_refresh_at = (
                None
                if never_expires
                else refresh_at(now, expires_at or now, self.provider.lead, margin=self.kv_margin)
            )
        else:
            state.next_refresh_at = now
        state.next_refresh_at = self._plan(state.next_refresh_at, now)
        await self.storage.save(state)
        if usable:
            await self._write_kv(state, now)
        await self._arm(state)
        if old is not None and live:
            await self._revoke_replaced(old, refresh_token)
        if self.plugins is not None:  # events are built only for someone to hear them
            await self._emit("freshtoken_account_registered", AccountRegistered(
                str(self.key), self.provider.name, now, state.generation, state.status.value, state.client,
                old is not None))
        if old is not None and old.status is Status.REAUTH_REQUIRED:
            await self._emit("freshtoken_account_recovered", AccountRecovered(
                str(self.key), self.provider.name, now, state.generation, old.status.value, old.failures,
                old.alerted_reauth, "reauth"))
        return state

    def _strategy(self, name: str) -> Strategy:
        """The strategy called ``name`` (built-in, or registered by a plugin); :class:`ConfigError` if unknown."""
        return strategy_from(name, None if self.plugins is None else self.plugins.strategies())

    def _strategy_for_account(self, name: str, account_data: dict[str, str]) -> Strategy:
        """The strategy ``name``, when this provider supports it and it can serve this account (else ConfigError)."""
        strategy = self._strategy(name)
        supported = self.provider.strategies
        if name not in supported:
            raise ConfigError(f"provider {self.provider.name!r} does not support strategy {name!r} (it supports: "
                              f"{', '.join(supported)})")
        try:
            strategy.check(self.provider, self.client, account_data)
        except RefreshError as exc:  # e.g. a private key that does not parse: a configuration problem here
            raise ConfigError(str(exc)) from None  # our own message: it names the client, never the key
        return strategy

    def _uses_refresh_token(self, state: AccountState) -> bool:
        try:
            return self._strategy(state.strategy).uses_refresh_token
        except ConfigError:
            return False  # _exchange reports the unknown strategy (misconfigured, retried slowly)

    def _check_key_provider(self) -> None:
        part, client = self.key.provider, self.client
        if client.provider_mismatch_ok or part in (client.provider, client.name):
            return
        raise ProviderMismatch(
            f"account key {str(self.key)!r}: its provider part {part!r} names neither the provider of client "
            f"{client.name!r} ({client.provider!r}) nor the client; use a key "
            f"'{{tenant}}:{client.provider}:{{account_id}}', or set provider_mismatch_ok = true on the client"
        )

    async def _revoke_replaced(self, old: AccountState, refresh_token: str | None) -> None:
        """After a replace: revoke the old grant (not when the refresh token is the same one)."""
        if old.refresh_token is None or old.refresh_token.get_secret_value() == refresh_token:
            return
        if old.client != self.client.name:
            log.warning("%s: the replaced grant belongs to client %r, not %r: not revoked", self.key, old.client,
                        self.client.name)
            return
        await self._revoke(old, after="the new grant is stored")

    async def alarm(self) -> Outcome:
        """The alarm handler. Never raises a :class:`RefreshError`: failures are scheduled, not thrown."""
        state = await self.storage.load()
        if state is None:
            await self.storage.delete_alarm()
            return Outcome(OutcomeKind.ABSENT)
        now = self.clock.now()
        if state.status in (Status.REAUTH_REQUIRED, Status.STATIC):
            await self.storage.delete_alarm()
            return Outcome(OutcomeKind(state.status.value), generation=state.generation)
        if (
            state.status is Status.ACTIVE
            and state.next_refresh_at is not None
            and now + EARLY_TOLERANCE < state.next_refresh_at
        ):
            # Not due: an at-least-once re-delivery, or a restart after a crash between the state write
            # and the KV write. Make KV match the state, re-arm, and do not call the provider.
            await self._write_kv(state, now)
            await self._arm(state)
            return Outcome(OutcomeKind.NOT_DUE, next_alarm=state.next_refresh_at, generation=state.generation)
        return await self._refresh(state)

    async def refresh_now(self) -> Outcome:
        """Refresh at once, whatever the schedule (the runtime serialises it with the alarm)."""
        state = await self.storage.load()
        if state is None:
            raise NotRegistered(str(self.key))
        if state.status is Status.STATIC:
            return Outcome(OutcomeKind.STATIC, generation=state.generation)
        return await self._refresh(state)

    async def status(self) -> dict[str, Any]:
        """The account's state without any secret, plus the scheduled alarm."""
        state = await self.storage.load()
        if state is None:
            raise NotRegistered(str(self.key))
        view = state.public()
        view["alarm_at"] = await self.storage.get_alarm()
        return view

    async def remove(self, *, revoke: bool = True) -> bool:
        """Delete the alarm, the KV record and the state; revoke the refresh token (RFC 7009) if possible."""
        state = await self.storage.load()
        await self.storage.delete_alarm()
        await self.kv.delete(self.kv_key)
        if state is None:
            await self.storage.delete()
            return False
        if revoke and state.refresh_token is not None:
            await self._revoke(state)
        await self.storage.delete()
        await self._emit("freshtoken_account_removed", AccountRemoved(
            str(self.key), self.provider.name, self.clock.now(), revoke and state.refresh_token is not None))
        return True

    # -- the refresh ------------------------------------------------------------------------------
    async def _refresh(self, state: AccountState) -> Outcome:
        """Steps 2-6 of the module docstring, for a loaded state that is due."""
        now = self.clock.now()
        if state.refresh_token is None and self._uses_refresh_token(state):
            return await self._on_reauth(state, ReauthRequired("no refresh token stored"), now)
        if (expired_at := state.begin_attempt(now)) is not None:
            await self._emit(
                "freshtoken_token_expired",
                TokenExpired(str(self.key), self.provider.name, now, expired_at, state.failures),
            )
        # The guard: a compare-and-swap on (generation, lease owner) where the storage is shared (embedded);
        # a process that no longer owns the account stops here, before anything is sent. A crash from here
        # on is visible at restart (``in_flight_since``).
        if superseded := await self._save_or_stand_down(state, "before sending"):
            return superseded
        try:  # 2. refresh at the provider
            tokens = await self._exchange(state, state.refresh_token)
        except ReauthRequired as exc:
            recovered = await self._try_previous_token(state, now)
            if recovered is None:
                return await self._on_reauth(state, exc, now)  # 5.
            tokens = recovered
        except (Misconfigured, RetryableError) as exc:
            return await self._on_failure(state, exc, now)  # 4. and 6.
        return await self._on_success(state, tokens, now)  # 3.

    async def _exchange(self, state: AccountState, refresh_token: SecretStr | None) -> TokenSet:
        """"How to get the next token": the account's strategy builds, sends and reads the exchange."""
        try:
            strategy = self._strategy(state.strategy)
            exchange = Exchange(self.provider, self.client, state.account_data, self.clock.now(), refresh_token)
            request = strategy.build_request(exchange)
        except RefreshError:
            raise
        except FreshtokenError as exc:  # e.g. account data that no longer validates
            raise Misconfigured(self._clean(str(exc), state)) from None
        except Exception as exc:
            raise Misconfigured(
                f"provider {self.provider.name!r} failed to build the request ({exc.__class__.__name__})"
            ) from None
        sent = self.clock.now()
        try:
            response = await strategy.send(self.http, request, self.client, timeout=self.provider.timeout)
        finally:
            if self.planner is not None:
                self.planner.observe(self.client.name, self.clock.now() - sent)
        try:
            # times in the answer count from when the request was sent: the token was issued after that, so it
            # expires no later than sent + expires_in (counted from the answer, a slow answer would stretch it)
            tokens = strategy.parse_response(exchange, response, sent)
        except RefreshError:
            raise
        except FreshtokenError as exc:
            raise Misconfigured(self._clean(str(exc), state)) from None
        except Exception as exc:
            raise MalformedResponse(
                f"provider {self.provider.name!r} failed to parse the response ({exc.__class__.__name__})"
            ) from None
        field = echoed(tokens, client_secrets=self.client.secret_values(), client_id=self.client.client_id,
                       sent=[None if refresh_token is None else refresh_token.get_secret_value()])
        if field is not None:
            raise MalformedResponse(f"the token answer carries the request's credentials back ({field}): refused")
        if (field := unsendable(tokens)) is not None:
            raise MalformedResponse(refusal(field))
        return tokens

    async def _try_previous_token(self, state: AccountState, now: float) -> TokenSet | None:
        """Within a provider's rotation grace window, the previous refresh token may still work (Xero)."""
        grace = self.provider.rotation_grace
        if (
            not grace
            or state.previous_refresh_token is None
            or state.rotated_at is None
            or now - state.rotated_at > grace
        ):
            return None
        try:
            return await self._exchange(state, state.previous_refresh_token)
        except RefreshError:
            return None

    async def _on_success(self, state: AccountState, tokens: TokenSet, started: float) -> Outcome:
        now = self.clock.now()
        was = (state.status, state.failures, state.alerted_failures or state.alerted_reauth)
        lateness = None if state.next_refresh_at is None else started - state.next_refresh_at
        rotated = state.apply_tokens(tokens, now, lead=self.provider.lead, margin=self.kv_margin)
        state.next_refresh_at = self._plan(state.next_refresh_at, now)
        # 1. the rotated refresh token is durable before anything else happens
        if not await self._persist_answer(state, rotated):
            return self._stood_down(state, "superseded while saving the answer")
        # 2. the request path sees the new token
        try:
            await self._write_kv(state, now)
        except Exception as exc:
            delay = self._policy().delay(1, rng=self.rng)
            await self.storage.set_alarm(now + delay)
            log.warning("%s: KV write failed (%s); retrying in %.0fs", self.key, exc.__class__.__name__, delay)
            return Outcome(OutcomeKind.RETRY_SCHEDULED, next_alarm=now + delay, error="kv write failed",
                           generation=state.generation)
        # 3. the next alarm
        await self._arm(state)
        await self._check_refresh_token_expiry(state, now)
        if self.plugins is not None:  # events are built only for someone to hear them
            await self._emit(
                "freshtoken_refresh_succeeded",
                RefreshSucceeded(
                    str(self.key), self.provider.name, now, state.generation, state.expires_at,
                    state.next_refresh_at, rotated, now - started, self._endpoint(state), lateness,
                ),
            )
        if was[1] > 0:  # a failing account is healthy again
            await self._emit("freshtoken_account_recovered", AccountRecovered(
                str(self.key), self.provider.name, now, state.generation, was[0].value, was[1], was[2], "refresh"))
        return Outcome(OutcomeKind.REFRESHED, next_alarm=state.next_refresh_at, generation=state.generation)

    async def _persist_answer(self, state: AccountState, rotated: bool) -> bool:
        """Make the provider's answer durable before anything else touches the account; the one place that
        saves a refresh's result.

        If the save fails (disk full, "database is locked", a storage outage), the tokens stay in memory and the
        save is retried with backoff on ``self.clock`` until it succeeds. The first failure rescues the state
        (:class:`~freshtoken.storage.RescueStorage`, when the storage has it: a durable, encrypted copy that the
        next start imports) and raises the ``rotated_token_not_durable`` alert. No KV write, no alarm change
        meanwhile. A cancellation leaves the rescued copy in place (and tries the rescue once more if it had
        failed). Returns False if the account was superseded (:class:`StateConflict`): the newer state wins.
        """
        attempt = 0
        rescued = False
        try:
            while True:
                try:
                    await self.storage.save(state)
                except StateConflict as exc:
                    log.error(
                        "%s: superseded while saving the provider's answer (generation %d): %s. The newer state "
                        "wins; this answer is dropped", self.key, state.generation, self._clean(str(exc), state),
                    )
                    if rescued:
                        await self._drop_rescue_if_stale(state)
                    return False
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    attempt += 1
                    error = self._clean(f"{exc.__class__.__name__}: {exc}", state)
                    if not rescued:
                        rescued = await self._rescue(state)
                    ceiling = min(SAVE_RETRY_CAP, SAVE_RETRY_BASE * 2.0 ** min(attempt - 1, 16))
                    retry_at = self.clock.now() + ceiling * self.rng.uniform(0.5, 1.0)
                    if attempt == 1:
                        log.error(
                            "%s: %s not yet durable: saving the provider's answer failed (%s); it is held in memory%s "
                            "and the save is retried; nothing else touches the account meanwhile",
                            self.key, "rotated token" if rotated else "refreshed token", error,
                            " and in the recovery file" if rescued else " ONLY",
                        )
                        await self._emit(
                            "freshtoken_rotated_token_not_durable",
                            RotatedTokenNotDurable(
                                str(self.key), self.provider.name, self.clock.now(), state.generation, rotated,
                                error, rescued, retry_at,
                            ),
                        )
                    else:
                        log.warning("%s: the save of the provider's answer failed again (attempt %d: %s)",
                                    self.key, attempt, error)
                    await self.clock.sleep_until(retry_at)
                    continue
                if rescued:
                    await self._drop_rescue(state)
                if attempt:
                    log.warning("%s: the provider's answer is durable after %d failed save(s)", self.key, attempt)
                return True
        except asyncio.CancelledError:
            if attempt and not rescued:
                rescued = await self._rescue(state)
            if attempt:
                log.error(
                    "%s: stopped before the provider's answer was saved; %s", self.key,
                    "it waits in the recovery file for the next start" if rescued
                    else "it is LOST (no recovery store took it): the grant may need re-authorisation",
                )
            raise

    async def _rescue(self, state: AccountState) -> bool:
        rescue = getattr(self.storage, "rescue", None)
        if rescue is None:
            return False
        try:
            await rescue(state)
        except Exception as exc:
            log.error("%s: could not rescue the provider's answer either (%s)", self.key,
                      self._clean(f"{exc.__class__.__name__}: {exc}", state))
            return False
        return True

    async def _drop_rescue(self, state: AccountState) -> None:
        drop = getattr(self.storage, "drop_rescue", None)
        if drop is None:
            return
        try:
            await drop(state)
        except Exception as exc:  # harmless: the next start finds the database caught up and clears it
            log.warning("%s: could not clear the rescued copy (%s)", self.key, exc.__class__.__name__)

    async def _drop_rescue_if_stale(self, state: AccountState) -> None:
        """After a conflict: clear the rescued copy only if the stored state is at least as new (otherwise the
        next start's import decides, by generation)."""
        try:
            current = await self.storage.load()
        except Exception:
            return
        if current is not None and current.generation >= state.generation:
            await self._drop_rescue(state)

    async def _save_or_stand_down(self, state: AccountState, when: str) -> Outcome | None:
        """Save ``state``; if another owner's state is newer (or it holds the lease: :class:`StateConflict`),
        stand down — write nothing more, set no alarm — and return the ``superseded`` outcome."""
        try:
            await self.storage.save(state)
        except StateConflict as exc:
            log.warning("%s: superseded %s: %s; this process stands down and writes nothing", self.key, when,
                        self._clean(str(exc), state))
            return self._stood_down(state, "superseded by another owner")
        return None

    @staticmethod
    def _stood_down(state: AccountState, reason: str) -> Outcome:
        return Outcome(OutcomeKind.SUPERSEDED, error=reason, generation=state.generation)

    def _policy(self) -> RetryPolicy:
        try:
            return self.provider.retry_policy()
        except Exception as exc:
            log.error("%s: provider retry_policy() failed (%s); using the default", self.key, exc.__class__.__name__)
            return RetryPolicy()

    async def _on_failure(self, state: AccountState, exc: RefreshError, now: float) -> Outcome:
        error = self._error_text(exc, state)
        lateness = None if state.next_refresh_at is None else now - state.next_refresh_at
        # the delay counts from the failure, not from the alarm's start: Retry-After is "after the response", and a
        # backoff shorter than a timed-out request would otherwise put the retry in the past (no backoff at all)
        failed_at = max(now, self.clock.now())
        retry_at, alert = state.record_failure(exc, failed_at, error=error, policy=self._policy(), rng=self.rng)
        if superseded := await self._save_or_stand_down(state, "after a failed refresh"):
            return superseded  # someone else took the account over meanwhile (another host racing us)
        await self.storage.set_alarm(retry_at)
        if state.expires_at is not None and state.expires_at <= now:  # the token in KV is gone: say why
            await self._write_reason(state, "misconfigured" if state.status is Status.MISCONFIGURED
                                     else "refresh_failing", now)
        await self._emit(
            "freshtoken_refresh_failed",
            RefreshFailed(
                str(self.key), self.provider.name, now, exc.kind, error, state.failures, retry_at, alert,
                state.generation, self.clock.now() - now, self._endpoint(state), lateness,
            ),
        )
        kind = OutcomeKind.MISCONFIGURED if state.status is Status.MISCONFIGURED else OutcomeKind.RETRY_SCHEDULED
        return Outcome(kind, next_alarm=retry_at, error=error, generation=state.generation)

    async def _on_reauth(self, state: AccountState, exc: RefreshError, now: float) -> Outcome:
        error = self._error_text(exc, state)
        first = state.mark_reauth(exc, error=error)
        if superseded := await self._save_or_stand_down(state, "after the provider refused the grant"):
            return superseded
        await self.storage.delete_alarm()
        await self._write_reason(state, "reauth_required", now)  # the token in KV gives way to the reason
        if first:
            log.error("%s: re-authorisation required: %s", self.key, error)
            await self._emit(
                "freshtoken_reauth_required",
                ReauthRequiredEvent(str(self.key), self.provider.name, now, error, exc.kind, state.generation,
                                    self.clock.now() - now, self._endpoint(state)),
            )
        return Outcome(OutcomeKind.REAUTH_REQUIRED, error=error, generation=state.generation)

    # -- helpers ----------------------------------------------------------------------------------
    async def _write_kv(self, state: AccountState, now: float) -> None:
        if state.access_token is None:
            return
        record = token_record(  # KVRecord(...).dumps(), without the model for plain values
            access_token=state.access_token.get_secret_value(),
            token_type=state.token_type,
            expires_at=None if state.expires_at is None else int(state.expires_at),
            scope=state.scope,
            generation=state.generation,
            refreshed_at=int(state.issued_at or now),
            extras=state.extras,
        )
        # the record outlives its token (EXPIRED_LINGER): a reader past expiry answers 'expired', not 'unknown'
        linger = None if state.expires_at is None else state.expires_at + EXPIRED_LINGER
        await self.kv.put(self.kv_key, record, ttl_until(linger, now))

    async def _write_reason(self, state: AccountState, status: str, now: float) -> None:
        """Replace the token in KV by a reason record (v2, no token); a failed write is logged, not raised."""
        try:
            await self.kv.put(self.kv_key, reason_record(status, generation=state.generation, since=now), None)
        except Exception as exc:
            log.warning("%s: KV write of the reason %r failed (%s)", self.key, status, exc.__class__.__name__)

    def _plan(self, due_by: float | None, now: float) -> float | None:
        """The next alarm: ``due_by`` itself, or where the planner puts it (never later)."""
        if due_by is None or self.planner is None:
            return due_by
        at = self.planner.place(str(self.key), self.client.name, due_by, now)
        return min(due_by, at) if due_by > now else max(now, at)  # an overdue deadline: as soon as there is room

    async def _arm(self, state: AccountState) -> None:
        if state.next_refresh_at is None:
            if self.planner is not None:
                self.planner.forget(str(self.key))
            await self.storage.delete_alarm()
        else:
            await self.storage.set_alarm(state.next_refresh_at)

    async def _check_refresh_token_expiry(self, state: AccountState, now: float) -> None:
        at = state.refresh_token_expires_at
        if at is None or state.alerted_refresh_token_expiry or at - now > REFRESH_TOKEN_WARNING:
            return
        state.alerted_refresh_token_expiry = True
        try:
            await self.storage.save(state)
        except StateConflict:
            return  # another process owns the account now: it alerts
        await self._emit(
            "freshtoken_refresh_token_expiring", RefreshTokenExpiring(str(self.key), self.provider.name, now, at)
        )

    async def _revoke(self, state: AccountState, *, after: str = "state removed anyway") -> None:
        url = self.provider.revocation_endpoint(state.account_data)
        if not url or state.refresh_token is None:
            return
        from .http import TokenRequest

        request = TokenRequest(
            url=url,
            params={"token": state.refresh_token.get_secret_value(), "token_type_hint": "refresh_token"},
            auth_method=self.client.auth_method or self.provider.auth_method,
        )
        try:
            await self.http.send(request, self.client, timeout=self.provider.timeout)
        except FreshtokenError as exc:
            log.warning("%s: revocation failed (%s); %s", self.key, exc.__class__.__name__, after)

    def _endpoint(self, state: AccountState) -> str:
        """The token endpoint's host and path, for events and logs (never its query string)."""
        try:
            return endpoint_label(self.provider.token_endpoint(state.account_data))
        except Exception:
            return ""

    def _secrets(self, state: AccountState) -> list[str]:
        values = self.client.secret_values()
        for s in (state.refresh_token, state.previous_refresh_token, state.access_token):
            if s is not None:
                values.append(s.get_secret_value())
        return values

    def _clean(self, text: str, state: AccountState) -> str:
        return redact(text, self._secrets(state), client_id=self.client.client_id)

    def _error_text(self, exc: RefreshError, state: AccountState) -> str:
        """The provider's code and description redacted together (a secret split between them is found), and
        which endpoint answered (host and path, never a query string)."""
        text = exc.summary(self._secrets(state), client_id=self.client.client_id)
        where = self._endpoint(state)
        return f"{text} (token endpoint {where})" if where else text

    async def _emit(self, hook: str, event: Event) -> None:
        if self.plugins is not None:
            await self.plugins.emit(hook, event)
