"""The README's webhook signature check (Operating section) runs as printed and accepts exactly what the alerter
signs: a changed body, another secret or an old timestamp are refused."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from freshtoken.observability.alerts.webhook import sign

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_check() -> Any:
    text = README.read_text()
    operating = text[text.index("## Operating"):]
    [code] = [b for b in re.findall(r"```python\n(.*?)```", operating, re.S) if "def verified" in b]
    assert len(code.strip().splitlines()) <= 6, code
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    return namespace["verified"]


def test_the_readme_signature_check_accepts_what_the_alerter_signs() -> None:
    verified = readme_check()
    body = b'{"id":"evt_1","type":"recovered","data":{"key":"t1:generic:a"}}'
    now = int(time.time())
    header = sign("s3cret-signing-key", body, now)
    assert verified(b"s3cret-signing-key", body, header)
    assert not verified(b"s3cret-signing-key", body + b" ", header)
    assert not verified(b"another-key", body, header)
    assert not verified(b"s3cret-signing-key", body, sign("s3cret-signing-key", body, now - 3600))
