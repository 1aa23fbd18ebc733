"""``freshtoken.cloudflare.climbs_out``: the rule the Python example gateway (``/proxy/``) and the JavaScript Worker
(readers/js/worker.mjs) apply to the path they forward, on the cases both are tested with
(tests/reader/climbing_paths.py; end to end in workerd: tests/cloudflare/test_cf_workerd.py and
tests/reader/test_js_readers.py)."""

from __future__ import annotations

import pytest

from freshtoken.cloudflare import climbs_out
from tests.reader.climbing_paths import CLIMBING, ENCODED_TOO_DEEP, PLAIN, resolved


def forwarded(path: str) -> str:
    """What a gateway forwards after ``UPSTREAM/``: the path after the key, without its query."""
    return path.split("?", 1)[0].removeprefix("/")


@pytest.mark.parametrize("path", CLIMBING)
def test_a_path_that_climbs_out_at_a_decoding_upstream_is_refused(path: str):
    assert not resolved("/base" + path).startswith("/base/")  # the case is what it claims to be
    assert climbs_out(forwarded(path))


@pytest.mark.parametrize("path", ENCODED_TOO_DEEP)
def test_a_segment_still_encoded_after_eight_decodings_is_refused(path: str):
    assert climbs_out(forwarded(path))
    # a hostile path of 16 KB nesting thousands of levels is refused after eight passes
    assert climbs_out("%" + "25" * 8000 + "2e")


@pytest.mark.parametrize("path", PLAIN)
def test_a_name_with_encoded_slashes_or_dots_goes_through(path: str):
    assert resolved("/base" + path).startswith("/base/")
    assert not climbs_out(forwarded(path))


def test_every_path_the_rule_lets_through_stays_under_the_base():
    """Generated: every path of up to four pieces drawn from dots, encoded slashes and backslashes (once and
    twice), ``;`` and a name. Whatever the rule lets through, a decoding upstream serves under the base."""
    pieces = ["..", ".", "%2e", "%2E%2e", "%2f", "%2F", "%5c", "%252f", "%252e", "%25", ";", ";x", "a", "/"]
    checked = 0

    def walk(prefix: str, depth: int) -> None:
        nonlocal checked
        if prefix and not prefix.startswith("/") and not climbs_out(prefix):
            # a gateway's URL parser resolved plain dot segments before the path reached the rule
            plain_dots = any(seg in (".", "..") for seg in prefix.split("/"))
            if not plain_dots:
                checked += 1
                assert resolved("/base/" + prefix).startswith("/base"), prefix
        if depth:
            for piece in pieces:
                walk(prefix + piece, depth - 1)

    walk("", 4)
    assert checked > 10_000
