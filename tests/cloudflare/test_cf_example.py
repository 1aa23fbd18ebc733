"""The example Worker's configuration: consistent with its code, and accepted by wrangler itself."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from freshtoken.cloudflare import RefresherObject

from .conftest import load_example

EXAMPLE_DIR = Path(__file__).resolve().parents[2] / "examples" / "cloudflare-worker"


def config() -> dict:
    return tomllib.loads((EXAMPLE_DIR / "wrangler.toml").read_text())


def test_wrangler_toml_matches_the_code():
    cfg = config()
    module = load_example()
    assert (EXAMPLE_DIR / cfg["main"]).is_file()
    assert "python_workers" in cfg["compatibility_flags"]
    (do,) = cfg["durable_objects"]["bindings"]
    cls = getattr(module, do["class_name"])
    assert issubclass(cls, RefresherObject)
    assert do["name"] == "REFRESHER"  # what the gateway forwards admin requests to
    # the class has a SQLite-backed storage migration
    assert any(do["class_name"] in m.get("new_sqlite_classes", []) for m in cfg["migrations"])
    # the KV namespace the refresher writes is the one the gateway reads
    (kv,) = cfg["kv_namespaces"]
    assert kv["binding"] == cls.kv_binding == "TOKENS"
    source = (EXAMPLE_DIR / cfg["main"]).read_text()
    assert 'GatewayReader.from_env(self.env, "TOKENS")' in source and 'binding="REFRESHER"' in source
    # secrets are not in vars
    assert "FRESHTOKEN_ADMIN_TOKEN" not in cfg.get("vars", {})
    for name, value in cfg.get("vars", {}).items():
        assert "SECRET" not in name
        assert '"client_secret"' not in value and '"private_key"' not in value


@pytest.mark.workerd
def test_wrangler_accepts_the_example(tmp_path: Path):
    """``wrangler deploy --dry-run`` (wrangler 4.86.0, offline): parses and validates wrangler.toml
    (bindings, migrations, vars), bundles the Python entry module, and lists the bindings."""
    wrangler = EXAMPLE_DIR / "node_modules" / ".bin" / "wrangler"
    if not wrangler.exists() or shutil.which("node") is None:
        if os.environ.get("FRESHTOKEN_REQUIRE_WORKERD") or os.environ.get("CI"):
            pytest.fail("wrangler is not installed (ci.d/cloudflare.sh installs it)")
        pytest.skip("wrangler is not installed (run ci.d/cloudflare.sh)")
    env = {**os.environ, "CI": "true", "WRANGLER_SEND_METRICS": "false", "NO_COLOR": "1",
           "WRANGLER_LOG_PATH": str(tmp_path / "logs"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    out = subprocess.run(
        [str(wrangler), "deploy", "--dry-run", "--outdir", str(tmp_path / "out")],
        cwd=EXAMPLE_DIR, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-3000:]
    assert "--dry-run: exiting now." in text
    assert "env.REFRESHER (TokenRefresher)" in text and "Durable Object" in text
    assert "env.TOKENS" in text and "KV Namespace" in text
    assert (tmp_path / "out" / "entry.py").read_text() == (EXAMPLE_DIR / "src" / "entry.py").read_text()
    assert not (EXAMPLE_DIR / ".wrangler-check").exists()
