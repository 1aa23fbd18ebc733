"""``accounts add`` passes every registration field through to the account (``--token-type`` and
``--refresh-token-expires-in`` did not exist before the Registration model: the fields were dropped)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from freshtoken.cli import main
from freshtoken.embedded import SQLiteKV
from tests.admin.support import write_config
from tests.registration_roundtrip import ACCESS_TOKEN, ACCOUNT_DATA, RT_LIFETIME, SCOPE, TOKEN_TYPE, check, every_field

KEY = "t1:generic:rt"


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_every_field_reaches_the_account(env: Path, sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    config = str(write_config(env, sandbox.token_url))
    grant = sandbox.mint("ui-client")
    monkeypatch.setenv("RT", grant["refresh_token"])
    monkeypatch.setenv("AT", ACCESS_TOKEN)
    before = time.time()
    r = cli("-c", config, "accounts", "add", KEY, "--client", "sandbox", "--refresh-token-env", "RT",
            "--access-token-env", "AT", "--expires-in", "3600", "--token-type", TOKEN_TYPE, "--scope", SCOPE,
            "--refresh-token-expires-in", str(RT_LIFETIME),
            *[f"--data={k}={v}" for k, v in ACCOUNT_DATA.items()], "--json")
    after = time.time()
    assert r.exit_code == 0, r.stderr
    assert grant["refresh_token"] not in r.stdout + r.stderr and ACCESS_TOKEN not in r.stdout + r.stderr
    shown = cli("-c", config, "accounts", "show", KEY, "--json")
    assert shown.exit_code == 0, shown.stderr
    view = json.loads(shown.stdout)
    assert json.loads(r.stdout)["token_type"] == TOKEN_TYPE
    assert before + RT_LIFETIME <= view["refresh_token_expires_at"] <= after + RT_LIFETIME
    expected = every_field("sandbox", grant["refresh_token"], before, expires_at=None, expires_in=3600.0,
                           refresh_token_expires_at=view["refresh_token_expires_at"])
    raw = SQLiteKV(env / "kv.db").get_sync(KEY)
    check(view, None if raw is None else json.loads(raw), expected, expires=(before + 3600, after + 3600))


def test_bad_fields_are_named(env: Path, sandbox) -> None:
    config = str(write_config(env, sandbox.token_url))
    r = CliRunner().invoke(main, ["-c", config, "accounts", "add", KEY, "--client", "sandbox", "--refresh-token",
                                  "rt-planted-51c0", "--token-type", ""])
    assert r.exit_code == 2 and "token_type" in r.stderr and "rt-planted-51c0" not in r.stderr, r.stderr
    assert cli("-c", config, "accounts", "list").stdout.strip() == "no accounts"
