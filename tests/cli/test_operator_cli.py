"""The CLI as an operator meets it (issue 13): `config check` lists every problem in one run, unknown providers
get "did you mean" (never a made-up distribution), unknown keys say so, a broken pipe is quiet, a command run in
the wrong folder does not create an empty database, and `keys rewrap` rotates the store's key."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from freshtoken.cli import main
from freshtoken.embedded import generate_key
from tests.admin.support import CLIENT_SECRET, write_config

BIN = Path(sys.executable).parent / "freshtoken"

FIVE_MISTAKES = """
[clients.a]
provider = "gogle"                                   # 1: a typo of an installed provider
client_id = "x"
client_secret = { env = "FT_CHECK_MISSING_A" }       # 2: unset

[clients.b]
provider = "generic"
client_id = "y"
client_secret = { env = "FT_CHECK_MISSING_B" }       # 3: unset
[clients.b.provider_options]
token_url = "https://169.254.169.254/token"          # 4: the cloud metadata address
no_such_option = 1                                   # 5: refused by the provider

[runtime]
concurrency = 0                                      # 6: out of range
"""


def cli(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def test_config_check_names_every_problem_in_one_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "freshtoken.toml").write_text(FIVE_MISTAKES)
    monkeypatch.chdir(tmp_path)
    for var in ("FT_CHECK_MISSING_A", "FT_CHECK_MISSING_B"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("FRESHTOKEN_RUNTIME__MAX_IDLE", "soon")  # 7: a bad override, named by its variable
    monkeypatch.setenv("FRESHTOKEN_ENCRYPTION_KEYS", generate_key("k1"))
    r = cli("config", "check", "--json")
    assert r.exit_code == 2
    report = json.loads(r.stdout)
    by_where = {p["where"]: p["message"] for p in report["problems"]}
    assert "did you mean 'google'" in by_where["clients.a.provider"]
    assert "pip install freshtoken-gogle" not in r.stdout
    assert "FT_CHECK_MISSING_A" in by_where["clients.a.client_secret"]
    assert "FT_CHECK_MISSING_B" in by_where["clients.b.client_secret"]
    assert "169.254.169.254" in by_where["clients.b.provider_options.token_url"]
    assert "no_such_option" in by_where["clients.b.provider_options"]
    assert "greater than or equal to 1" in by_where["runtime.concurrency"]
    assert any("FRESHTOKEN_RUNTIME__MAX_IDLE" in w and w.startswith("runtime.max_idle") for w in by_where)
    assert len(report["problems"]) == 7, report["problems"]
    # Human output: one line per problem on stderr, then the count.
    r = cli("config", "check")
    assert r.exit_code == 2 and r.stderr.strip().splitlines()[-1] == "7 problem(s) found"


def test_config_check_ok_and_wrong_keys(env: Path, sandbox) -> None:
    config = str(write_config(env, sandbox.token_url))
    r = cli("-c", config, "config", "check")
    assert r.exit_code == 0 and "ok (1 client(s))" in r.stdout
    assert cli("-c", config, "accounts", "add", "t:generic:u", "--client", "sandbox",
               "--refresh-token", "rt-1").exit_code == 0
    import os

    os.environ["FRESHTOKEN_ENCRYPTION_KEYS"] = generate_key("other")  # monkeypatched by `env`, restored after
    r = cli("-c", config, "config", "check", "--json")
    assert r.exit_code == 2
    [problem] = json.loads(r.stdout)["problems"]
    assert problem["where"] == "FRESHTOKEN_ENCRYPTION_KEYS" and "'test'" in problem["message"]
    assert CLIENT_SECRET not in r.stdout


def test_unknown_provider_suggests_only_published_names(env: Path, sandbox) -> None:
    config = write_config(env, sandbox.token_url)
    config.write_text(config.read_text().replace('provider = "generic"', 'provider = "gogle"'))
    r = cli("-c", str(config), "accounts", "list")
    assert r.exit_code == 2
    assert "did you mean 'google'" in r.stderr and "freshtoken-gogle" not in r.stderr


def test_unknown_key_says_so(env: Path, sandbox) -> None:
    config = str(write_config(env, sandbox.token_url))
    r = cli("-c", config, "accounts", "show", "t9:x:y")
    assert r.exit_code == 1
    assert r.stderr.strip() == "error: no account is registered under 't9:x:y'"


def test_broken_pipe_is_quiet(env: Path, sandbox) -> None:
    config = str(write_config(env, sandbox.token_url))
    for n in range(300):
        assert cli("-c", config, "accounts", "add", f"t:generic:u{n:03d}", "--client", "sandbox",
                   "--refresh-token", f"rt-{n}").exit_code == 0
    # A reader that goes away after one line (`| head -1`): the process must end without noise.
    proc = subprocess.Popen([str(BIN), "-c", config, "accounts", "list"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Broken pipe" not in err and "Traceback" not in err and "Exception ignored" not in err, err


def test_no_config_refuses_to_create_a_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FRESHTOKEN_CONFIG", raising=False)
    monkeypatch.delenv("FRESHTOKEN_CREATE_DATABASE", raising=False)
    monkeypatch.setenv("FRESHTOKEN_ENCRYPTION_KEYS", generate_key("k1"))
    r = cli("accounts", "list")
    assert r.exit_code == 2 and "--create-database" in r.stderr
    assert not (tmp_path / "freshtoken.db").exists()
    r = cli("--create-database", "accounts", "list")
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "freshtoken.db").exists()
    assert cli("accounts", "list").exit_code == 0  # the database exists now: no flag needed


def test_keys_rewrap_moves_every_secret_to_the_first_key(env: Path, sandbox,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    config = str(write_config(env, sandbox.token_url))
    old = generate_key("old")
    monkeypatch.setenv("FRESHTOKEN_ENCRYPTION_KEYS", old)
    for n in range(3):
        assert cli("-c", config, "accounts", "add", f"t:generic:r{n}", "--client", "sandbox",
                   "--refresh-token", f"rt-{n}").exit_code == 0

    def kids() -> set[str]:
        with sqlite3.connect(env / "state.db") as db:
            rows = [r[0] for r in db.execute("SELECT state FROM accounts")]
        return {v.split(".")[1] for text in rows for v in json.loads(text).values()
                if isinstance(v, str) and v.startswith("v1.")}

    assert kids() == {"old"}
    monkeypatch.setenv("FRESHTOKEN_ENCRYPTION_KEYS", f"{generate_key('new')},{old}")
    r = cli("-c", config, "keys", "rewrap", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["rewrapped"] == 3 and kids() == {"new"}
    # The old key can go now: the store opens with the new key alone.
    monkeypatch.setenv("FRESHTOKEN_ENCRYPTION_KEYS", ",".join(
        e for e in __import__("os").environ["FRESHTOKEN_ENCRYPTION_KEYS"].split(",") if e.startswith("new:")))
    r = cli("-c", config, "accounts", "show", "t:generic:r1", "--json")
    assert r.exit_code == 0, r.stderr
    assert cli("-c", config, "keys", "rewrap", "--json").exit_code == 0  # nothing left to do
