"""Wrong encryption keys: commands that open the state database refuse to start with one clear line (exit 2)
when the configured keys cannot decrypt it, instead of starting and failing every alarm. ``freshtoken serve``
runs as a real process."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner
from pydantic import SecretStr

from freshtoken.cli import main
from freshtoken.embedded import AesGcmCodec, SQLiteStore, generate_key
from freshtoken.state import AccountState
from tests.admin.support import write_config

BIN = Path(sys.executable).parent / "freshtoken"
KEYS = "FRESHTOKEN_ENCRYPTION_KEYS"


def _store_with_one_account(env: Path) -> None:
    store = SQLiteStore(env / "state.db", AesGcmCodec.from_env())
    store.save_state("t1:sandbox:alice", AccountState(
        key="t1:sandbox:alice", client="sandbox", refresh_token=SecretStr("rt-PLANTED-wrong-keys-1"),
    ))
    store.close()


def _serve(config: Path, keys: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "FRESHTOKEN_CONFIG"}
    env[KEYS] = keys
    return subprocess.Popen([str(BIN), "-c", str(config), "serve", "--port", "0"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _started(proc: subprocess.Popen[str], timeout: float = 30.0) -> tuple[str | None, str]:
    """(the admin URL if serve started, stderr read so far); stops reading when the process exits."""
    assert proc.stderr is not None
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            return None, seen
        seen += line
        m = re.search(r"admin API on (http://\S+)", line)
        if m:
            return m.group(1), seen
    return None, seen


def test_serve_with_keys_that_cannot_decrypt_the_store_exits_2_with_one_line(env: Path, sandbox) -> None:
    config = write_config(env, sandbox.token_url)
    _store_with_one_account(env)
    right = os.environ[KEYS]
    wrong = generate_key("other")
    proc = _serve(config, wrong)
    try:
        url, err = _started(proc)
        assert url is None, "serve started with keys that cannot decrypt the store"
        rest = proc.communicate(timeout=30)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err += rest
    assert proc.returncode == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "cannot decrypt" in lines[0] and "'test'" in lines[0], lines[0]
    assert "Traceback" not in err and "PLANTED" not in err
    assert right.split(":", 1)[1] not in err and wrong.split(":", 1)[1] not in err  # no key material

    # the same key id with other key material is refused too
    proc = _serve(config, "test:" + generate_key("x").split(":", 1)[1])
    try:
        url, _ = _started(proc)
        assert url is None
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 2

    # the right keys (here behind a new primary, as during a rotation) start
    proc = _serve(config, f"{wrong},{right}")
    try:
        url, err = _started(proc)
        assert url is not None, err
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0


def test_other_commands_opening_the_store_refuse_wrong_keys(env: Path, sandbox, monkeypatch) -> None:
    config = write_config(env, sandbox.token_url)
    _store_with_one_account(env)
    monkeypatch.setenv(KEYS, generate_key("other"))
    result = CliRunner().invoke(main, ["-c", str(config), "accounts", "list"], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot decrypt" in lines[0] and "Traceback" not in result.output
