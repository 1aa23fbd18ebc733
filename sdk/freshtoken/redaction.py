"""Redaction: one function, :func:`redact`, for every text freshtoken stores or prints that may hold a secret.

A token endpoint may echo what it was sent, in any encoding. :func:`redact` replaces every known secret in
each form it takes on the wire, wherever it sits in the text:

* raw, in any letter case (a provider may upper- or lower-case what it echoes);
* URL-encoded: ``quote`` (with and without ``/`` kept), ``quote_plus``, JavaScript's ``encodeURIComponent``,
  encoded twice; upper- or lower-case hex (all matching is case-insensitive);
* JSON-escaped (``\\/`` for ``/``, ``\\uXXXX`` for every character, non-ASCII escaped or not), hex, and
  HTML-escaped;
* base64 and base64url, padded or not, of each of the forms above and of the HTTP Basic pair
  ``client_id:secret``, raw and form-encoded as RFC 6749 §2.3.1 (and :mod:`freshtoken.http`) encodes it;
* base64 of a *whole* echoed body or header that holds the secret at any offset: base64 turns 3 bytes into
  4 characters, so a secret at byte offset ``k`` is written differently for ``k mod 3`` = 0, 1 or 2. For each
  of the 3 alignments, the characters that depend on the secret's bytes alone (not on its neighbours) are
  matched; the at most 2 characters at either end that mix in a neighbour's bits stay (they hold under 12
  bits of the secret);
* with invisible characters between its characters: format characters (Unicode category Cf: zero-width
  space and joiners, word joiner, BOM, soft hyphen, bidi marks), controls (Cc: line breaks, as in MIME
  base64) and the other default-ignorable fillers are skipped while matching;
* split between fields: a provider's ``error`` and ``error_description`` (or any sequence of fields) are
  matched as ONE stream, so a secret whose first half ends one field and second half starts the next is found.

Everything is matched on the whole text, *before* it is cut to a length: a secret across the cut cannot leave
its first half. Then, with ``mask_tokens``, any run of 32 or more token characters (``[A-Za-z0-9._~+/=-]``)
that looks like a token — it holds a piece of more than 16 characters between ``.``, ``/`` and ``-`` — is
masked, whoever's token it is: normal prose, URLs, UUIDs, dates and error codes survive (their pieces are
short). Invisible characters are dropped from the output and other unprintable ones become ``?``.

What is *not* covered: a secret shorter than 4 characters; encodings beyond those listed (compression,
encryption, a cipher the provider invents); a secret split across fields with other text between the halves;
a fragment of an unknown token shorter than the mask's 32 characters.
"""

from __future__ import annotations

import base64
import bisect
import dataclasses
import functools
import html
import itertools
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from urllib.parse import quote, quote_plus

#: Longest text kept (provider error texts, stored as ``last_error``).
MAX_TEXT = 300
#: What :func:`redact` appends to a text it cut.
ELLIPSIS = "…"
#: What a known secret becomes.
REDACTED = "[redacted]"
#: What an unknown token-like run becomes.
MASKED = "[masked]"
#: Shortest secret looked for (shorter values would match ordinary words).
MIN_SECRET = 4
#: Shortest derived base64 form looked for.
_MIN_DERIVED = 8
#: Mask runs of at least this many token characters...
TOKEN_RUN = 32
#: ...holding a piece (between ``.``, ``/``, ``-``) longer than this.
TOKEN_PIECE = 16

_TOKEN_RUN = re.compile(r"[a-z0-9._~+/=\-]{" + str(TOKEN_RUN) + ",}")
_PIECE_SPLIT = re.compile(r"[./\-]")
#: Default-ignorable characters outside Cf/Cc (combining grapheme joiner, Hangul and Khmer fillers).
_OTHER_IGNORABLE = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180f\u3164\uffa0")


def invisible(ch: str) -> bool:
    """True for a character skipped when matching: Cf, Cc and the other default-ignorable code points."""
    if ch in _OTHER_IGNORABLE or "\ufe00" <= ch <= "\ufe0f" or "\U000e0100" <= ch <= "\U000e01ef":
        return True
    return unicodedata.category(ch) in ("Cf", "Cc")


# -- the forms of a secret ------------------------------------------------------------------------------------
def _text_forms(secret: str) -> set[str]:
    """The textual forms of ``secret``: raw, URL-encoded, JSON-escaped, hex, HTML-escaped."""
    forms = {
        secret,
        quote(secret, safe=""),
        quote(secret, safe="/"),
        quote(secret, safe="!'()*~"),  # encodeURIComponent
        quote_plus(secret),
        quote_plus(secret, safe="/"),
        quote(quote_plus(secret), safe=""),  # encoded twice (a form value inside a URL)
        secret.encode().hex(),
        "".join(f"\\u{ord(c):04x}" if ord(c) < 0x10000 else c for c in secret),
        html.escape(secret),
    }
    for ascii_only in (True, False):
        escaped = json.dumps(secret, ensure_ascii=ascii_only)[1:-1]
        forms.update((escaped, escaped.replace("/", "\\/")))
    return forms


def _base64_forms(payload: bytes) -> set[str]:
    """base64 and base64url (unpadded: the padded form contains it) of ``payload``, alone and, for each of the
    3 alignments, inside a longer stream (the characters that depend on ``payload`` alone)."""
    out = set()
    n = len(payload)
    for k in range(3):
        std = base64.b64encode(b"\0" * k + payload).decode("ascii")
        first = (8 * k + 5) // 6  # the first character holding no bit of the k bytes before
        last = (8 * (k + n)) // 6  # characters before this one hold no bit of what follows
        cores = [std.rstrip("=")] if k == 0 else []
        cores.append(std[first:last])
        for core in cores:
            if len(core) >= _MIN_DERIVED:
                out.add(core)
                out.add(core.replace("+", "-").replace("/", "_"))
    return out


def secret_forms(secret: str, client_id: str | None = None) -> set[str]:
    """Every form of ``secret`` :func:`redact` looks for, lower-cased (matching ignores case)."""
    if not secret or len(secret) < MIN_SECRET:
        return set()
    texts = _text_forms(secret)
    payloads = set(texts)
    if client_id:
        payloads |= {f"{client_id}:{secret}", f"{quote_plus(client_id)}:{quote_plus(secret)}",
                     f"{quote(client_id, safe='')}:{quote(secret, safe='')}"}
    forms = {t for t in texts if len(t) >= MIN_SECRET}
    for payload in payloads:
        forms |= _base64_forms(payload.encode("utf-8", "surrogatepass"))
    return {f.lower() for f in forms}


# -- matching ---------------------------------------------------------------------------------------------------
def _class(ranges: list[tuple[int, int]]) -> str:
    return "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges)


#: Unprintable categories shown as ``?``: controls, separators other than space, surrogates, private use
#: (unassigned code points are left as they are).
_SHOWN_AS_QUESTION = frozenset({"Cc", "Zl", "Zp", "Zs", "Cs", "Co"})


@dataclasses.dataclass(frozen=True)
class _Classes:
    hidden: re.Pattern[str]  # skipped when matching: invisible characters (controls included)
    dropped: re.Pattern[str]  # removed from the output: invisible characters but controls
    question: re.Pattern[str]  # shown as "?": controls and other unprintable characters


@functools.cache
def _char_classes() -> _Classes:
    """The character classes of :func:`redact`, computed once from :mod:`unicodedata` over the planes that hold
    format characters (0, 1 and 14) and the private-use planes."""
    found: dict[str, list[tuple[int, int]]] = {"hidden": [], "dropped": [], "question": []}
    for plane in (0x00000, 0x10000, 0xE0000):
        for code in range(plane, plane + 0x10000):
            ch = chr(code)
            category = unicodedata.category(ch)
            hide = invisible(ch)
            for name, hit in (("hidden", hide), ("dropped", hide and category != "Cc"),
                              ("question", (category in _SHOWN_AS_QUESTION and ch != " " and not hide)
                               or category == "Cc")):
                if hit:
                    ranges = found[name]
                    if ranges and ranges[-1][1] == code - 1:
                        ranges[-1] = (ranges[-1][0], code)
                    else:
                        ranges.append((code, code))
    found["question"].append((0xF0000, 0x10FFFF))  # private use planes
    return _Classes(**{name: re.compile(f"[{_class(ranges)}]") for name, ranges in found.items()})


class _Index:
    """Maps a position in the normalised text back to the original: the normalised text is the original
    without its invisible characters (at ``removed``), lower-cased character for character."""

    def __init__(self, removed: list[int]) -> None:
        self.removed = removed
        #: for each removed character, how many kept characters come before it
        self._kept_before = [r - i for i, r in enumerate(removed)]

    def original(self, j: int) -> int:
        return j + bisect.bisect_right(self._kept_before, j)

    def normalised(self, i: int) -> int:
        return i - bisect.bisect_left(self.removed, i)


@functools.lru_cache(maxsize=64)
def _cached_forms(secret: str, client_id: str | None) -> frozenset[str]:
    """:func:`secret_forms`, kept for the secrets asked about again and again (a client's secret: ~90 µs to
    build each time)."""
    return frozenset(secret_forms(secret, client_id))


def carries_secret(text: str, secrets: Iterable[str | None], *, client_id: str | None = None,
                   cache: bool = False) -> bool:
    """Whether ``text`` holds any of ``secrets`` in any form :func:`redact` replaces (invisible characters
    skipped, any letter case). A text shorter than a secret cannot hold it: every form is at least as long as the
    secret, so such a secret costs nothing. ``cache``: keep the forms of these secrets (long-lived ones only,
    such as a client's secret: a cache holds them in memory)."""
    norm: str | None = None
    for secret in secrets:
        if not secret or len(secret) < MIN_SECRET or len(text) < len(secret):
            continue
        if norm is None:
            norm = _normalise(text)[0]
        forms = _cached_forms(secret, client_id) if cache else secret_forms(secret, client_id)
        if any(form in norm for form in forms):
            return True
    return False


def _normalise(text: str) -> tuple[str, _Index | None]:
    """``text`` lower-cased without invisible characters, and how to map positions back (None: identity)."""
    if text.isascii() and text.isprintable():
        return text.lower(), None
    hidden = _char_classes().hidden
    removed = [m.start() for m in hidden.finditer(text)]
    kept = hidden.sub("", text) if removed else text
    low = kept.replace("\u0130", "i").lower()  # İ is the one character whose lower case is two
    if len(low) != len(kept):  # cannot happen with today's Unicode: keep the mapping exact anyway
        low = "".join(c if len(c.lower()) != 1 else c.lower() for c in kept)
    return low, _Index(removed)


def _spans(norm: str, forms: Iterable[str]) -> list[tuple[int, int]]:
    """Where ``forms`` occur in ``norm`` (start, end), overlapping ones included."""
    found = []
    for form in forms:
        start = norm.find(form)
        while start >= 0:
            found.append((start, start + len(form)))
            start = norm.find(form, start + 1)
    return found


def _part_starts(parts: Sequence[str], index: _Index | None) -> list[int]:
    """Where each field after the first starts, in the normalised text."""
    starts, offset = [], 0
    for part in parts[:-1]:
        offset += len(part)
        starts.append(offset if index is None else index.normalised(offset))
    return starts


def _token_like(run: str) -> bool:
    return any(len(piece) > TOKEN_PIECE for piece in _PIECE_SPLIT.split(run))


def _merge(spans: Iterable[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Overlapping or touching spans merged; a merged span is :data:`REDACTED` if any part of it was."""
    out: list[tuple[int, int, str]] = []
    for start, end, label in sorted(spans):
        if out and start <= out[-1][1]:
            s, e, lab = out[-1]
            out[-1] = (s, max(e, end), REDACTED if REDACTED in (lab, label) else lab)
        else:
            out.append((start, end, label))
    return out


def _render(text: str, offset: int, spans: list[tuple[int, int, str]]) -> str:
    """``text`` (at ``offset`` in the joined stream) with ``spans`` (sorted, disjoint) replaced by their labels."""
    out: list[str] = []
    pos = 0
    for start, end, label in spans:
        s, e = max(start - offset, 0), min(end - offset, len(text))
        if e <= 0 or s >= len(text) or e <= s:
            continue
        out.append(_visible(text[pos:s]))
        out.append(label)
        pos = e
    out.append(_visible(text[pos:]))
    return "".join(out)


def _visible(chunk: str) -> str:
    """``chunk`` without invisible characters, controls and other unprintable ones shown as ``?``."""
    if chunk.isascii() and chunk.isprintable():
        return chunk
    classes = _char_classes()
    return classes.question.sub("?", classes.dropped.sub("", chunk))


def redact(
    text: str | Sequence[str],
    secrets: Iterable[str | None] = (),
    *,
    client_id: str | None = None,
    joiner: str = ": ",
    limit: int | None = MAX_TEXT,
    mask_tokens: bool = True,
) -> str:
    """``text`` with every form of every secret replaced by ``[redacted]`` (see the module's documentation),
    token-like runs masked (``mask_tokens``), unprintable characters neutralised, then cut to ``limit``.

    ``text`` may be a sequence of fields (a provider's ``error`` and ``error_description``): they are matched
    as one stream, so that a secret split between them is found, and joined with ``joiner`` in the output.
    ``client_id`` adds the forms of the HTTP Basic pair ``client_id:secret``.
    """
    parts = [text] if isinstance(text, str) else [p for p in text if p]
    joined = "".join(parts)
    norm, index = _normalise(joined)
    known = [s for s in secrets if s and len(s) >= MIN_SECRET]
    forms: set[str] = set()
    for secret in known:
        forms |= secret_forms(secret, client_id)
    found = _spans(norm, sorted(forms, key=len, reverse=True))
    labelled = [(s, e, REDACTED) for s, e in found]
    if mask_tokens:
        pieces, pos = [], 0  # the text with the secrets found blanked out: a run stops at them
        for s, e, _ in _merge(labelled):
            pieces += [norm[pos:s], " " * (e - s)]
            pos = e
        blank = "".join([*pieces, norm[pos:]])
        starts = _part_starts(parts, index)  # a run does not continue into the next field
        for m in _TOKEN_RUN.finditer(blank):
            cuts = [m.start(), *(p for p in starts if m.start() < p < m.end()), m.end()]
            for s, e in itertools.pairwise(cuts):
                if e - s >= TOKEN_RUN and _token_like(norm[s:e]):
                    labelled.append((s, e, MASKED))
    spans = []
    for s, e, label in _merge(labelled):
        if index is None:
            spans.append((s, e, label))
        else:
            spans.append((index.original(s), index.original(e - 1) + 1, label))
    spans = _merge(spans)
    rendered, offset = [], 0
    for part in parts:
        rendered.append(_render(part, offset, spans))
        offset += len(part)
    out = joiner.join(rendered)
    for secret in known:
        if ELLIPSIS in out:
            out = _redact_cut(out, secret)
    if limit is not None and len(out) > limit:
        out = out[:limit] + ELLIPSIS
    return out


def _redact_cut(text: str, secret: str) -> str:
    """Replace the first 4 or more characters of ``secret`` where they end a text cut earlier (just before
    ``…``): a caller may hand over a text that something else already cut."""
    low = secret.lower()
    positions = [i for i, ch in enumerate(text) if ch == ELLIPSIS]
    for pos in reversed(positions):  # right to left: earlier positions stay valid
        tail = text[max(0, pos - len(low)) : pos].lower()
        for k in range(min(len(low) - 1, len(tail)), MIN_SECRET - 1, -1):
            if tail.endswith(low[:k]):
                text = text[: pos - k] + REDACTED + text[pos:]
                break
    return text
