"""``freshtoken connect`` as a real process: the test plays the browser (the sandbox's login form, then the
redirect to the command's loopback listener)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from freshtoken.embedded import AesGcmCodec, SQLiteStore
from tests.connect.support import CLIENT_SECRET, KEY, PASSWORD, query_of, sandbox_authorize, write_config

BIN = Path(sys.executable).parent / "freshtoken"


@contextmanager
def connect_process(config: Path, *args: str) -> Iterator[subprocess.Popen[str]]:
    env = {k: v for k, v in os.environ.items() if k != "FRESHTOKEN_CONFIG"}
    proc = subprocess.Popen([str(BIN), "-c", str(config), "connect", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)


def authorization_url(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()  # the URL is the first line on stdout
    assert line.startswith("http://127.0.0.1:"), (line, proc.stderr.read() if proc.poll() is not None else "")
    return line


def stored(folder: Path) -> tuple[Any, str | None]:
    store = SQLiteStore(folder / "state.db", AesGcmCodec.from_env(os.environ))
    try:
        state = store.load_state(KEY)
    finally:
        store.close()
    from freshtoken.kv.sqlite import SQLiteKV

    kv = SQLiteKV(folder / "kv.db")
    try:
        return state, kv.get_sync(KEY)
    finally:
        kv.close()


def test_connect_as_a_process_registers_and_prints_no_token(env: Path, sandbox: Any) -> None:
    config = write_config(env, sandbox.url)
    with connect_process(config, KEY, "--client", "sandbox", "--scope", "read", "--timeout", "60") as proc:
        url = authorization_url(proc)
        params = httpx.URL(url).params
        assert params["scope"] == "read" and params["code_challenge_method"] == "S256"
        redirect = params["redirect_uri"]
        assert redirect.startswith("http://127.0.0.1:") and redirect.endswith("/callback")
        location = sandbox_authorize(url)
        assert location.startswith(redirect + "?")
        # a stray request first (a browser's favicon): it is answered 404 and the listener keeps waiting
        port_base = redirect.rsplit("/", 1)[0]
        assert httpx.get(port_base + "/favicon.ico", trust_env=False).status_code == 404
        page = httpx.get(location, trust_env=False, timeout=30)
        assert page.status_code == 200 and "Connected" in page.text
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert f"connected {KEY} (client sandbox, status active" in out
    state, record = stored(env)
    assert state is not None and state.status.value == "active" and state.scope == "read"
    assert record is not None
    access = json.loads(record)["access_token"]
    refresh = state.refresh_token.get_secret_value()
    code = query_of(location)["code"]
    for text in (out, err, page.text):
        for secret in (access, refresh, code, CLIENT_SECRET, PASSWORD, query_of(location)["state"]):
            assert secret not in text
    # the listener is closed: one request, then gone
    with pytest.raises(httpx.TransportError):
        httpx.get(location, trust_env=False, timeout=5)


def test_connect_denied_exits_1_and_registers_nothing(env: Path, sandbox: Any) -> None:
    config = write_config(env, sandbox.url)
    with connect_process(config, KEY, "--client", "sandbox", "--timeout", "60") as proc:
        location = sandbox_authorize(authorization_url(proc), action="deny")
        page = httpx.get(location, trust_env=False, timeout=30)
        assert page.status_code == 400 and "refused" in page.text
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "access_denied" in err and "Traceback" not in err
    assert stored(env) == (None, None)


def test_connect_callback_with_a_forged_state_exits_1(env: Path, sandbox: Any) -> None:
    config = write_config(env, sandbox.url)
    with connect_process(config, KEY, "--client", "sandbox", "--timeout", "60") as proc:
        location = sandbox_authorize(authorization_url(proc))
        q = query_of(location)
        forged = location.split("?")[0] + f"?code={q['code']}&state=forged-{q['state'][:8]}"
        page = httpx.get(forged, trust_env=False, timeout=30)
        assert page.status_code == 400
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "invalid_state" in err
    assert q["code"] not in err + out + page.text
    assert stored(env) == (None, None)


def test_connect_times_out_when_no_redirect_comes(env: Path, sandbox: Any) -> None:
    config = write_config(env, sandbox.url)
    with connect_process(config, KEY, "--client", "sandbox", "--timeout", "1") as proc:
        authorization_url(proc)
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "no redirect came back" in err
    assert stored(env) == (None, None)


def test_connect_an_active_account_needs_replace(env: Path, sandbox: Any) -> None:
    config = write_config(env, sandbox.url)
    with connect_process(config, KEY, "--client", "sandbox", "--timeout", "60") as proc:
        httpx.get(sandbox_authorize(authorization_url(proc)), trust_env=False, timeout=30)
        proc.communicate(timeout=60)
    assert proc.returncode == 0
    with connect_process(config, KEY, "--client", "sandbox", "--timeout", "60") as proc:
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "--replace" in err and out == ""
    with connect_process(config, KEY, "--client", "sandbox", "--timeout", "60", "--replace", "--json") as proc:
        url = authorization_url(proc)
        httpx.get(sandbox_authorize(url), trust_env=False, timeout=30)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    view = json.loads(out)
    assert view["replaced"] is True and view["status"] == "active" and "access_token" not in view


def test_connect_open_hands_the_url_to_the_browser(env: Path, sandbox: Any, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """``--open``: the URL goes to the user's browser ($BROWSER here: a script that records what it was given)."""
    seen = tmp_path / "browser-got.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\nprintf "%s" "$1" > "{seen}"\n')
    browser.chmod(0o755)
    config = write_config(env, sandbox.url)
    monkeypatch.setenv("BROWSER", f"{browser} %s")
    with connect_process(config, KEY, "--client", "sandbox", "--open", "--timeout", "60") as proc:
        url = authorization_url(proc)
        deadline = time.monotonic() + 30
        while not (seen.exists() and seen.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert seen.read_text() == url
        httpx.get(sandbox_authorize(seen.read_text()), trust_env=False, timeout=30)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert f"connected {KEY}" in out


def test_connect_redirect_host_localhost(env: Path, sandbox: Any) -> None:
    """For a provider that only accepts http://localhost/...: the redirect URI names localhost, the listener is
    still on 127.0.0.1 and the browser reaches it by that name."""
    config = write_config(env, sandbox.url)
    with connect_process(config, KEY, "--client", "sandbox", "--redirect-host", "localhost", "--timeout", "60") as proc:
        url = authorization_url(proc)
        redirect = httpx.URL(url).params["redirect_uri"]
        assert redirect.startswith("http://localhost:") and redirect.endswith("/callback")
        location = sandbox_authorize(url)
        assert httpx.get(location, trust_env=False, timeout=30).status_code == 200
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    state, _ = stored(env)
    assert state is not None and state.status.value == "active"
