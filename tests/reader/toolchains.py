"""Finding the other languages' toolchains for the reader tests: skip with the reason when one is missing
locally, fail when FRESHTOKEN_REQUIRE_READERS or CI is set (ci.d/readers.sh installs them)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def need(ok: bool, what: str) -> None:
    if ok:
        return
    if os.environ.get("FRESHTOKEN_REQUIRE_READERS") or os.environ.get("CI"):
        pytest.fail(f"{what} (ci.d/readers.sh installs it)")
    pytest.skip(f"{what} (run ci.d/readers.sh)")


def node() -> str:
    path = shutil.which("node")
    need(path is not None, "node is not installed")
    return path  # type: ignore[return-value]


def miniflare() -> None:
    need((ROOT / "tests" / "cloudflare" / "harness" / "node_modules" / "miniflare").is_dir(),
         "miniflare is not installed in tests/cloudflare/harness")


def node_redis() -> None:
    need((ROOT / "readers" / "node" / "node_modules" / "redis").is_dir(),
         "the npm package redis is not installed in readers/node")


def go() -> str:
    path = shutil.which("go")
    need(path is not None, "go is not installed (Debian: golang-go)")
    return path  # type: ignore[return-value]
