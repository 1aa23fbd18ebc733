"""The catalog of published provider plugins is current, and an unknown provider never suggests installing a
distribution the project does not publish."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from freshtoken.catalog import published, unknown_provider_hint

ROOT = Path(__file__).resolve().parents[2]


def test_catalog_json_is_current() -> None:
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "catalog.py"), "--check"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    names = {p.name for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").exists()}
    assert set(published()) == names


def test_hints() -> None:
    installed = ["generic", "google", "github"]
    assert "did you mean 'google'" in unknown_provider_hint("gogle", installed)
    assert "freshtoken-gogle" not in unknown_provider_hint("gogle", installed)
    # a published provider that is not installed: the real distribution
    assert unknown_provider_hint("gitlab", installed) == "install it with 'pip install freshtoken-gitlab'"
    # a near miss of a published, uninstalled provider: that one, not the typo
    assert "'pip install freshtoken-hubspot'" in unknown_provider_hint("hubspt", installed)
    hint = unknown_provider_hint("acme-internal", installed)
    assert "pip install" not in hint and "third-party" in hint
