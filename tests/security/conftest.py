"""Fixtures of the security tests: a fresh folder with the canary secrets and an encryption key in the
environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from freshtoken.embedded import generate_key
from tests.security.canaries import ADMIN_TOKEN, CLIENT_SECRET


@pytest.fixture
def folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("FT_SEC_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("FT_SEC_ADMIN_TOKEN", ADMIN_TOKEN)
    monkeypatch.setenv("FRESHTOKEN_ENCRYPTION_KEYS", generate_key("security"))
    monkeypatch.delenv("FRESHTOKEN_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path
