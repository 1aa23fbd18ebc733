"""The Go reader (readers/go: a RESP GET over net.Conn, standard library only) on records written by the SDK,
on a real redis-server."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from . import toolchains
from .sdk_records import EXPECTED, MIN_REMAINING, put_in_redis

ROOT = Path(__file__).resolve().parents[2]


def build_ftread(out_dir: Path) -> Path:
    go = toolchains.go()
    binary = out_dir / "ftread"
    subprocess.run([go, "build", "-o", str(binary), "./cmd/ftread"], cwd=ROOT / "readers" / "go", check=True,
                   timeout=600, env={**os.environ, "GOFLAGS": "-mod=mod", "GOPROXY": "off"})
    return binary


@pytest.mark.redis
def test_go_reader_on_redis(redis_server: str, sdk_written: dict[str, str], tmp_path: Path):
    binary = build_ftread(tmp_path)
    prefix = "goreader:"
    put_in_redis(redis_server, prefix, sdk_written)
    addr = redis_server.removeprefix("redis://").split("/")[0]
    out = subprocess.run([str(binary), "read", addr, prefix, str(MIN_REMAINING), *EXPECTED], capture_output=True,
                         text=True, timeout=60, check=True)
    readings = json.loads(out.stdout)
    assert {k: (v["reason"], v["status"]) for k, v in readings.items()} == EXPECTED
    token = json.loads(sdk_written["t:generic:ok"])["access_token"]
    assert readings["t:generic:ok"]["authorization"] == f"Bearer {token}"
    assert readings["t:generic:static"]["authorization"] == "Bearer static-token-1"
    assert all("authorization" not in v for k, v in readings.items() if EXPECTED[k][0] != "ok")


def test_go_unit_tests_vet_and_format():
    go = toolchains.go()
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GOPROXY": "off"}
    subprocess.run([go, "vet", "./..."], cwd=ROOT / "readers" / "go", check=True, timeout=600, env=env)
    subprocess.run([go, "test", "./..."], cwd=ROOT / "readers" / "go", check=True, timeout=600, env=env)
    out = subprocess.run(["gofmt", "-l", "."], cwd=ROOT / "readers" / "go", capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.stdout == "", f"gofmt would change: {out.stdout}"
