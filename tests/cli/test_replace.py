"""``accounts add`` over an existing account: refused without ``--replace``; with it, the old grant is revoked."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from freshtoken.cli import main
from tests.admin.support import write_config


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def family(sandbox, refresh_token: str):
    return sandbox.app.families[sandbox.app._by_token[refresh_token]]


def test_add_over_an_existing_account_needs_replace(env: Path, sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    config = str(write_config(env, sandbox.token_url))
    old, new = sandbox.mint("ui-client")["refresh_token"], sandbox.mint("ui-client")["refresh_token"]
    monkeypatch.setenv("OLD_RT", old)
    monkeypatch.setenv("NEW_RT", new)
    add = ("-c", config, "accounts", "add", "t1:generic:u1", "--client", "sandbox")
    assert cli(*add, "--refresh-token-env", "OLD_RT").exit_code == 0
    assert cli("-c", config, "accounts", "refresh", "t1:generic:u1").exit_code == 0

    r = cli(*add, "--refresh-token-env", "NEW_RT")
    assert r.exit_code == 2, (r.exit_code, r.stdout)
    assert r.stderr.startswith("error: ") and "already registered" in r.stderr and "--replace" in r.stderr
    assert new not in r.stderr + r.stdout and "Traceback" not in r.stderr
    # the stored grant is still the old one: it refreshes, the new grant was never used, nothing revoked
    assert cli("-c", config, "accounts", "refresh", "t1:generic:u1").exit_code == 0
    assert family(sandbox, old).refreshes == 2 and not family(sandbox, old).revoked
    assert family(sandbox, new).refreshes == 0

    r = cli(*add, "--refresh-token-env", "NEW_RT", "--replace")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.strip() == "registered t1:generic:u1 (client sandbox, status pending)"
    assert family(sandbox, old).revoked and not family(sandbox, new).revoked
    assert cli("-c", config, "accounts", "refresh", "t1:generic:u1").exit_code == 0
    assert family(sandbox, new).refreshes == 1


def test_add_with_a_key_naming_another_provider_is_refused(env: Path, sandbox) -> None:
    config = str(write_config(env, sandbox.token_url))
    r = cli("-c", config, "accounts", "add", "t1:google:u1", "--client", "sandbox", "--refresh-token", "rt-x")
    assert r.exit_code == 2, (r.exit_code, r.stderr)
    assert "'google'" in r.stderr and "'generic'" in r.stderr and "provider_mismatch_ok" in r.stderr
    assert cli("-c", config, "accounts", "list").stdout.strip() == "no accounts"
