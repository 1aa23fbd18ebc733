"""The catalog of provider plugins this project publishes, and "did you mean" for an unknown provider name.

``catalog.json`` is generated from ``plugins/`` (``python scripts/catalog.py``). An unknown provider is answered
with the closest installed names and, only when the name is in the catalog, the distribution to install: a typo
(``gogle``) never suggests ``pip install freshtoken-gogle``, a name nobody publishes.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from functools import cache
from importlib import resources


@cache
def published() -> dict[str, str]:
    """Provider name -> the distribution that provides it (``freshtoken-<name>``)."""
    try:
        data = json.loads(resources.files(__package__).joinpath("catalog.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    providers = data.get("providers") if isinstance(data, dict) else None
    return {str(k): str(v) for k, v in providers.items()} if isinstance(providers, dict) else {}


def close_names(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The names in ``candidates`` closest to ``name`` (difflib, cutoff 0.6)."""
    return difflib.get_close_matches(name.lower(), sorted(set(candidates)), n=n, cutoff=0.6)


def unknown_provider_hint(name: str, installed: Iterable[str]) -> str:
    """The advice after "unknown provider NAME": what to install, or which name was probably meant."""
    installed = sorted(set(installed))
    catalog = published()
    if name in catalog:
        return f"install it with 'pip install {catalog[name]}'"
    near_installed = close_names(name, installed)
    near_published = [n for n in close_names(name, catalog) if n not in installed]
    hints = []
    if near_installed:
        hints.append("did you mean " + " or ".join(repr(n) for n in near_installed) + "?")
    if near_published:
        hints.append("or install " + " or ".join(f"{n!r} ('pip install {catalog[n]}')" for n in near_published))
    if not hints:
        hints.append("it is not a provider the freshtoken project publishes; a third-party plugin must be "
                     "installed for it (see 'freshtoken providers')")
    return " ".join(hints)
