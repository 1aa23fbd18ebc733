"""The conformance kit has teeth: it passes a correct provider, and fails providers that get what the
refresher relies on wrong (each broken provider below must fail the named kit tests)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from freshtoken import Misconfigured, ReauthRequired, RetryableError, TokenSet
from freshtoken.providers.generic import GenericProvider
from freshtoken.testing import KIT_NOW, Reply, TokenEndpoint, hostile_values, replay

HEADER = '''
from collections.abc import Mapping
from typing import Any, ClassVar
from freshtoken import Provider, TokenSet
from freshtoken.testing import ProviderConformance

class Base(Provider):
    name = "generic"
    token_url: str = "https://auth.example.com/token"
'''

BROKEN = {
    # treats every 200 as a token: an error body answered with 200 becomes a "success"
    "error_in_200": ('''
class P(Base):
    def is_error_payload(self, payload: Mapping[str, Any]) -> bool:
        return False
''', ["test_error_in_200"]),
    # a missing expiry means "never expires": the refresher would never refresh again
    "never_expires": ('''
class P(Base):
    default_lifetime: float | None = None
''', None),
    # a lax pattern for a host placeholder: any value goes into the URL
    "lax_host": ('''
class P(Base):
    account_fields: ClassVar[Mapping[str, str]] = {"shop": r".+"}
    token_url: str = "https://{shop}/token"
''', ["test_hostile_account_data_refused"]),
    # an expiry parsed from the wrong field
    "wrong_expiry": ('''
class P(Base):
    expires_in_field: str = "ext_expires_in"
''', ["test_expiry_follows_response"]),
}


def _run_kit(tmp_path: Path, cases: dict[str, str]) -> str:
    """One pytest run over a module with a conformance class per case (class ``Test<case>``)."""
    source = [HEADER]
    for case, body in cases.items():
        cls = "P_" + case
        source.append(textwrap.dedent(body).replace("class P(", f"class {cls}("))
        source.append(textwrap.dedent(f'''

class Test_{case}(ProviderConformance):
    provider = {cls}()
    check_entry_point = False
    account_data = {{"shop": "acme.example.com"}} if "shop" in {cls}.account_fields else {{}}
'''))
    module = tmp_path / "test_subject.py"
    module.write_text("\n".join(source))
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf", "--rootdir",
                          str(tmp_path), str(module)], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    return out.stdout + out.stderr


def test_kit_fails_broken_providers_and_passes_a_correct_one(tmp_path: Path) -> None:
    cases = {case: body for case, (body, _) in BROKEN.items()}
    cases["correct"] = "class P(Base):\n    pass\n"
    output = _run_kit(tmp_path, cases)
    failed: dict[str, set[str]] = {}
    for line in output.splitlines():
        if line.startswith("FAILED "):
            _, cls, test = line.split(" ")[1].split("::")
            failed.setdefault(cls.removeprefix("Test_"), set()).add(test)
    assert "correct" not in failed, output[-3000:]
    assert "never_expires" not in failed, output[-3000:]  # declaring never-expiring tokens is legitimate
    for case, (_, expected) in BROKEN.items():
        if expected:
            assert set(expected) <= failed.get(case, set()), (case, failed.get(case), output[-3000:])


def test_a_plain_http_provider_cannot_even_be_built() -> None:
    """A plain-http token endpoint (the client secret in clear) used to fail the kit's request-shape test;
    the endpoint policy now refuses it when the provider is built, class defaults included."""
    import pytest

    from freshtoken import Provider
    from freshtoken.errors import UnsafeEndpoint

    class PlainHttp(Provider):
        token_url: str = "http://auth.example.com/token"

    with pytest.raises(UnsafeEndpoint, match="plain http"):
        PlainHttp()


def test_replay() -> None:
    p = GenericProvider(token_url="https://auth.example.com/token")
    ok = replay(p, 200, {"access_token": "a", "expires_in": 60})
    assert isinstance(ok, TokenSet) and ok.expires_at == KIT_NOW + 60
    assert isinstance(replay(p, 400, {"error": "invalid_grant"}), ReauthRequired)
    assert isinstance(replay(p, 401, {"error": "invalid_client"}), Misconfigured)
    limited = replay(p, 429, b"", {"Retry-After": "7"})
    assert isinstance(limited, RetryableError) and limited.retry_after == 7
    assert isinstance(replay(p, 200, "<html>"), RetryableError)


def test_endpoint_records_target_and_plays_back_in_order() -> None:
    import asyncio

    import httpx

    with TokenEndpoint() as endpoint:
        endpoint.script(Reply(201, {"a": 1}), Reply(503, "down", {"Retry-After": "3"}))

        async def go() -> list[httpx.Response]:
            transport = endpoint.transport()
            async with httpx.AsyncClient(transport=transport) as client:
                out = [await client.post("https://x.example.com/token?q=1", content=b"k=v") for _ in range(3)]
            assert transport.targets == ["https://x.example.com/token?q=1"] * 3
            return out

        first, second, third = asyncio.run(go())
        assert (first.status_code, first.json()) == (201, {"a": 1})
        assert second.status_code == 503 and second.headers["retry-after"] == "3"
        assert third.status_code == 599  # nothing scripted: a loud, unmistakable answer
        assert endpoint.requests[0].path == "/token?q=1" and endpoint.requests[0].params == {"k": "v"}
        assert endpoint.requests[0].target == "https://x.example.com/token?q=1"
        assert "x-freshtoken-kit-target" not in endpoint.requests[0].headers


def test_hostile_values_never_include_the_valid_value() -> None:
    for valid in ("acme", "acme.myshopify.com", "common"):
        values = hostile_values(valid)
        assert valid not in values and len(values) == len(set(values))
