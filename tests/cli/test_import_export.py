"""``accounts import`` / ``accounts export`` against a real SQLite store and the loopback sandbox: bad lines are
named with their numbers while the good ones are imported, a re-run changes nothing, ``--replace`` replaces a
different grant (and revokes it), export holds no secret unless sealed to a named key and round-trips."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from freshtoken.cli import main
from freshtoken.embedded import SQLiteKV, generate_key
from freshtoken.record import KVRecord
from tests.admin.support import CLIENT_SECRET, write_config
from tests.raw_files import raw_file


def cli(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)


def family(sandbox: Any, refresh_token: str) -> Any:
    return sandbox.app.families[sandbox.app._by_token[refresh_token]]


def rows(db: Path) -> dict[str, tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return {r[0]: r[1:] for r in conn.execute("SELECT key, client, status, state, alarm_at FROM accounts")}


def jsonl(items: list[Any]) -> str:
    return "".join((item if isinstance(item, str) else json.dumps(item)) + "\n" for item in items)


@pytest.fixture
def grants(sandbox: Any) -> list[str]:
    return [sandbox.mint("ui-client")["refresh_token"] for _ in range(4)]


def test_bad_lines_are_named_and_the_good_ones_imported(env: Path, sandbox: Any, grants: list[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    config = str(write_config(env, sandbox.token_url))
    monkeypatch.setenv("U3_RT", grants[2])
    lines = [
        {"key": "t1:generic:u1", "client": "sandbox", "refresh_token": grants[0]},                  # 1 ok
        '{"key": "t1:generic:u2", "client": ',                                                      # 2 not JSON
        {"key": "t1:generic:u9", "client": "nope", "refresh_token": grants[3]},                     # 3 unknown client
        {"key": "t1:generic:u3", "client": "sandbox", "refresh_token": {"env": "U3_RT"},            # 4 ok, with a
         "access_token": "at-imported-1", "expires_in": 1800, "account_data": {"team": "blue"}},    #   live token
        "",                                                                                         # 5 blank
        {"client": "sandbox", "refresh_token": grants[3]},                                          # 6 no key
        {"key": "t1:generic:u4", "client": "sandbox", "refresh_token": {"env": "NOT_SET_ANYWHERE"}},  # 7 unset env
        {"key": "t1:generic:u5", "client": "sandbox", "refresh_token": grants[1], "colour": "red"},   # 8 unknown field
        {"key": "t1:generic:u6", "client": "sandbox", "refresh_token": grants[1]},                  # 9 ok
        {"key": "t1:google:u7", "client": "sandbox", "refresh_token": grants[3]},                   # 10 wrong provider
    ]
    (env / "accounts.jsonl").write_text(jsonl(lines))
    r = cli("-c", config, "accounts", "import", "accounts.jsonl", "--batch", "2")
    assert r.exit_code == 1, r.output
    errors = [line for line in r.stderr.splitlines() if line.startswith("line ")]
    assert [e.split(":", 1)[0] for e in errors] == [f"line {n}" for n in (2, 3, 6, 7, 8, 10)], r.stderr
    assert "unknown client 'nope'" in errors[1] and "key is missing" in errors[2]
    assert "NOT_SET_ANYWHERE is not set" in errors[3] and "colour" in errors[4] and "google" in errors[5]
    assert r.stdout.strip() == ("9 line(s): imported 3, replaced 0, skipped 0 (already registered), failed 6")
    for secret in [*grants, "at-imported-1", CLIENT_SECRET]:
        assert secret not in r.output
    stored = rows(env / "state.db")
    assert sorted(stored) == ["t1:generic:u1", "t1:generic:u3", "t1:generic:u6"]
    assert all(alarm is not None for (_, _, _, alarm) in stored.values())
    assert stored["t1:generic:u3"][1] == "active"  # its live access token went to KV through registration
    kv = SQLiteKV(env / "kv.db")
    try:
        record = KVRecord.loads(kv.get_sync("t1:generic:u3") or "")
        assert record.access_token == "at-imported-1"
    finally:
        kv.close()
    assert grants[0] not in raw_file(env / "state.db").decode("latin-1")  # encrypted at rest
    # the imported grants work: a refresh of each uses its family
    assert cli("-c", config, "accounts", "refresh", "t1:generic:u1").exit_code == 0
    assert family(sandbox, grants[0]).refreshes == 1


def test_a_rerun_changes_nothing(env: Path, sandbox: Any, grants: list[str]) -> None:
    config = str(write_config(env, sandbox.token_url))
    lines = [{"key": f"t1:generic:r{i}", "client": "sandbox", "refresh_token": g} for i, g in enumerate(grants)]
    (env / "a.jsonl").write_text(jsonl(lines))
    assert cli("-c", config, "accounts", "import", "a.jsonl").exit_code == 0
    before = rows(env / "state.db")
    for extra in ((), ("--replace",)):  # the same grants: skipped, with or without --replace
        r = cli("-c", config, "accounts", "import", "a.jsonl", *extra, "--json")
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout) == {"lines": 4, "imported": 0, "replaced": 0, "skipped": 4, "failed": 0,
                                        "errors": []}
        assert rows(env / "state.db") == before  # byte for byte: state, status, alarm
    assert not any(family(sandbox, g).revoked for g in grants)


def test_replace_replaces_another_grant_and_revokes_it(env: Path, sandbox: Any, grants: list[str]) -> None:
    config = str(write_config(env, sandbox.token_url))
    old, new = grants[0], grants[1]
    (env / "old.jsonl").write_text(jsonl([{"key": "t1:generic:x", "client": "sandbox", "refresh_token": old}]))
    (env / "new.jsonl").write_text(jsonl([{"key": "t1:generic:x", "client": "sandbox", "refresh_token": new}]))
    assert cli("-c", config, "accounts", "import", "old.jsonl").exit_code == 0
    before = rows(env / "state.db")
    r = cli("-c", config, "accounts", "import", "new.jsonl")
    assert r.exit_code == 0 and "skipped 1" in r.stdout  # without --replace an existing key is left alone
    assert rows(env / "state.db") == before
    r = cli("-c", config, "accounts", "import", "new.jsonl", "--replace")
    assert r.exit_code == 0 and "replaced 1" in r.stdout, r.output
    assert family(sandbox, old).revoked and not family(sandbox, new).revoked
    assert cli("-c", config, "accounts", "refresh", "t1:generic:x").exit_code == 0
    assert family(sandbox, new).refreshes == 1


def test_export_has_no_secret_unless_sealed_and_round_trips(env: Path, sandbox: Any, grants: list[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    config = str(write_config(env, sandbox.token_url))
    lines = [{"key": f"t1:generic:e{i}", "client": "sandbox", "refresh_token": g, "account_data": {"n": str(i)}}
             for i, g in enumerate(grants[:3])]
    lines[0].update(access_token="at-export-0", expires_in=3000)
    (env / "a.jsonl").write_text(jsonl(lines))
    assert cli("-c", config, "accounts", "import", "a.jsonl").exit_code == 0

    plain = cli("-c", config, "accounts", "export")
    assert plain.exit_code == 0, plain.output
    exported = [json.loads(x) for x in plain.stdout.splitlines()]
    assert [e["key"] for e in exported] == ["t1:generic:e0", "t1:generic:e1", "t1:generic:e2"]
    assert exported[1] == {"key": "t1:generic:e1", "client": "sandbox", "strategy": "refresh_token",
                           "account_data": {"n": "1"}, "token_type": "Bearer"}
    for secret in [*grants, "at-export-0"]:
        assert secret not in plain.output

    r = cli("-c", config, "accounts", "export", "--with-secrets")
    assert r.exit_code == 2 and "name one key" in r.output  # never plaintext: a key must be named
    key_file = env / "export.key"
    key_file.write_text(generate_key("exp") + "\n")
    r = cli("-c", config, "accounts", "export", "--with-secrets", "--to-key", str(key_file), "--out", "sealed.jsonl")
    assert r.exit_code == 0, r.output
    sealed_text = (env / "sealed.jsonl").read_text()
    for secret in [*grants, "at-export-0"]:
        assert secret not in sealed_text
    first = json.loads(sealed_text.splitlines()[0])
    assert first["refresh_token"]["sealed"].startswith("v1.exp.") and "expires_at" in first
    assert (env / "sealed.jsonl").stat().st_mode & 0o077 == 0

    # into a fresh deployment: without the key the sealed lines fail, with it every account arrives
    other = env / "other"
    other.mkdir()
    monkeypatch.chdir(other)
    config2 = str(write_config(other, sandbox.token_url))
    monkeypatch.setenv("FRESHTOKEN_ENCRYPTION_KEYS", generate_key("other"))
    r = cli("-c", config2, "accounts", "import", str(env / "sealed.jsonl"))
    assert r.exit_code == 1 and r.stderr.count("is sealed: give --key") == 3
    wrong = other / "wrong.key"
    wrong.write_text(generate_key("exp"))
    r = cli("-c", config2, "accounts", "import", str(env / "sealed.jsonl"), "--key", str(wrong))
    assert r.exit_code == 1 and r.stderr.count("does not open with the key given") == 3
    r = cli("-c", config2, "accounts", "import", str(env / "sealed.jsonl"), "--key", str(key_file))
    assert r.exit_code == 0 and "imported 3" in r.stdout, r.output
    moved = rows(other / "state.db")
    assert sorted(moved) == ["t1:generic:e0", "t1:generic:e1", "t1:generic:e2"]
    assert moved["t1:generic:e0"][1] == "active"  # the live access token came along
    assert cli("-c", config2, "accounts", "refresh", "t1:generic:e2").exit_code == 0
    assert family(sandbox, grants[2]).refreshes == 1  # the same grant, moved
    # a sealed value moved to another account's line does not open (bound to its key)
    swapped = json.loads(sealed_text.splitlines()[1])
    swapped["key"] = "t1:generic:e9"
    (other / "swapped.jsonl").write_text(jsonl([swapped]))
    r = cli("-c", config2, "accounts", "import", "swapped.jsonl", "--key", str(key_file))
    assert r.exit_code == 1 and "line 1: refresh_token: the sealed value does not open" in r.stderr


def test_progress_goes_to_a_terminal_only(env: Path, sandbox: Any, grants: list[str]) -> None:
    config = str(write_config(env, sandbox.token_url))
    (env / "a.jsonl").write_text(jsonl([{"key": "t1:generic:p1", "client": "sandbox", "refresh_token": grants[0]}]))
    r = cli("-c", config, "accounts", "import", "-", stdin=(env / "a.jsonl").read_text())
    assert r.exit_code == 0 and "imported 1" in r.stdout
    assert "importing" not in r.stderr  # not a TTY: no progress bar


async def test_memory_does_not_grow_with_the_file(env: Path, sandbox: Any) -> None:
    """Streaming: nothing per line outlives its batch (a registration's lease renewer ends when the loop runs;
    without a turn of the loop per batch, every line's cancelled renewer stayed until the end: 217 MiB at 100k)."""
    import asyncio

    from freshtoken.cli._common import CliState
    from freshtoken.cli.accounts_bulk import import_lines

    config = str(write_config(env, sandbox.token_url))
    host = CliState(config=config).host()
    seen: list[int] = []

    def lines() -> Any:
        for i in range(1, 601):
            if i % 100 == 0:
                seen.append(len([t for t in asyncio.all_tasks() if t.get_name().startswith("freshtoken-lease")]))
            yield i, json.dumps({"key": f"t1:generic:m{i}", "client": "sandbox", "refresh_token": f"rt-m{i}"})

    try:
        report = await import_lines(host, lines(), batch=50)
    finally:
        await host.aclose()
    assert report.imported == 600 and not report.errors
    assert max(seen) <= 50, seen  # at most one batch's worth, not one per line so far
