"""Canary secrets, every form they take on the wire, and a leak finder.

The forms are derived here independently of ``freshtoken.redaction`` (a test that reused the implementation's
own list could not fail). A text *leaks* a canary when, after removing invisible characters (Unicode Cf and
Cc), its lower-cased form holds any wire form of the canary, or any run of :data:`FRAGMENT` characters of the
raw canary.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable
from urllib.parse import quote, quote_plus

CLIENT_ID = "ft canary/client"  # form-encoding changes it: "ft+canary%2Fclient"
CLIENT_SECRET = "CanaryCS+Zq9/Wx=7Kp4Lm"
ADMIN_TOKEN = "CanaryADM-5b1e77c2e0d4"
#: No run of this many characters of a raw canary may survive anywhere.
FRAGMENT = 10


def _h(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def refresh_token(i: int) -> str:
    """A refresh-token canary with the characters URL and base64 encodings change (``+ / = ~``)."""
    h = _h(f"rt-{i}")
    return f"CanaryRT{i:02d}+{h[:6].upper()}/{h[6:12]}={h[12:16]}~{h[16:20].upper()}"


def access_token(i: int) -> str:
    """An access-token canary whose JSON form is itself (the KV record holds it verbatim)."""
    h = _h(f"at-{i}")
    return f"CanaryAT{i:02d}-{h[:10].upper()}{h[10:20]}"


def b64(data: bytes, *, url: bool = False, pad: bool = True) -> str:
    out = (base64.urlsafe_b64encode if url else base64.b64encode)(data).decode()
    return out if pad else out.rstrip("=")


def _cores(payload: bytes) -> list[str]:
    """The base64 characters that depend on ``payload`` alone when it sits at any offset in a longer stream:
    for each of the 3 alignments, the characters two different surroundings agree on (found by trying)."""
    out = []
    for k in range(3):
        for url in (False, True):
            a = b64(b"\x00" * k + payload + b"\x00" * 3, url=url)
            b = b64(b"\xff" * k + payload + b"\xff" * 3, url=url)
            same = [i for i in range(len(a)) if a[i] == b[i]]
            if same:
                out.append(a[same[0] : same[-1] + 1])
    return out


@functools.cache
def wire_forms(secret: str, client_id: str = CLIENT_ID) -> tuple[str, ...]:
    """Every form of ``secret`` a provider may echo, each a string to look for case-insensitively."""
    texts = {
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        quote_plus(secret, safe="/"),
        quote(quote_plus(secret), safe=""),  # encoded twice
        json.dumps(secret)[1:-1].replace("/", "\\/"),
        "".join(f"\\u{ord(c):04x}" for c in secret),
        secret.encode().hex(),
    }
    forms = set(texts)
    pairs = [f"{client_id}:{secret}", f"{quote_plus(client_id)}:{quote_plus(secret)}"]
    for payload in [*texts, *pairs]:
        raw = payload.encode()
        for url in (False, True):
            for pad in (False, True):
                forms.add(b64(raw, url=url, pad=pad))
        forms.update(_cores(raw))
    # a form that holds a shorter one is found through it: keep the minimal ones (fewer searches)
    low = sorted({f.lower() for f in forms if len(f) >= 6}, key=len)
    minimal: list[str] = []
    for form in low:
        if not any(m in form for m in minimal):
            minimal.append(form)
    return tuple(minimal)


#: Encodings the hostile endpoint applies to every canary it echoes (name -> function).
ENCODINGS: dict[str, Callable[[str], str]] = {
    "raw": lambda s: s,
    "upper": str.upper,
    "lower": str.lower,
    "quote": lambda s: quote(s, safe=""),
    "quote-keep-slash": quote,
    "quote_plus": quote_plus,
    "quote-lower-hex": lambda s: _lower_hex(quote(s, safe="")),
    "quote_plus-lower-hex": lambda s: _lower_hex(quote_plus(s)),
    "url-encoded-twice": lambda s: quote(quote_plus(s), safe=""),
    "json-escaped": lambda s: json.dumps(s)[1:-1].replace("/", "\\/"),
    "json-unicode-escaped": lambda s: "".join(f"\\u{ord(c):04X}" for c in s),
    "base64": lambda s: b64(s.encode()),
    "base64-nopad": lambda s: b64(s.encode(), pad=False),
    "base64url": lambda s: b64(s.encode(), url=True),
    "base64url-nopad": lambda s: b64(s.encode(), url=True, pad=False),
    "base64-of-quote_plus": lambda s: b64(quote_plus(s).encode()),
    "hex": lambda s: s.encode().hex(),
    "zero-width-space": lambda s: "\u200b".join(s),
    "zero-width-mixed": lambda s: "".join(c + "\u200c\u200d\u2060\ufeff\u00ad\u200e"[i % 6] for i, c in enumerate(s)),
    "zero-width-lower-quote_plus": lambda s: "\u2063".join(quote_plus(s).lower()),
}


def _lower_hex(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "%":
            out.append(text[i : i + 3].lower())
            i += 3
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


@functools.cache
def _invisible() -> re.Pattern[str]:
    chars = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) in ("Cf", "Cc")]
    return re.compile("[" + "".join(re.escape(c) for c in chars) + "]")


def visible(text: str) -> str:
    """``text`` without Cf/Cc characters, lower-cased: what a reader (or a decoder) would see."""
    return _invisible().sub("", text).lower()


def leaks(text: str, secrets: Iterable[str], client_id: str = CLIENT_ID) -> list[str]:
    """What of ``secrets`` is visible in ``text``: any wire form, or a raw fragment of FRAGMENT chars."""
    seen = visible(text)
    found = []
    for secret in secrets:
        for form in wire_forms(secret, client_id):
            if form in seen:
                found.append(f"{form[:24]!r} (a form of {secret[:10]}…)")
                break
        else:
            low = secret.lower()
            for i in range(len(low) - FRAGMENT + 1):
                if low[i : i + FRAGMENT] in seen:
                    found.append(f"fragment {low[i : i + FRAGMENT]!r} of {secret[:10]}…")
                    break
    return found


def json_texts(raw: str) -> list[str]:
    """``raw`` and, when it is JSON, its decoded form (escapes such as ``\\u200b`` undone)."""
    out = [raw]
    try:
        out.append(json.dumps(json.loads(raw), ensure_ascii=False))
    except ValueError:
        pass
    return out
