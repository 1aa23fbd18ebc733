"""docs/architecture.md names every module of the package, and matches what the modules say of themselves."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_architecture_doc_is_current() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "architecture.py"), "--check"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_architecture_doc_names_every_module() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text()
    pkg = ROOT / "sdk" / "freshtoken"
    missing = [p.relative_to(pkg).as_posix() for p in pkg.rglob("*.py") if f"`{p.relative_to(pkg).as_posix()}`" not in doc]
    assert not missing, missing
    assert "## Elsewhere" not in doc, "every module belongs to a layer"


HOST_SIDE = ("host", "embedded", "cloudflare", "temporal", "observability", "admin", "cli", "sandbox", "testing",
             "providers")


def _imports(path: Path, package: str) -> set[str]:
    import ast

    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - (node.level - 1)]
                out.add(".".join(base + ([node.module] if node.module else [])))
            elif node.module:
                out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_contracts_import_nothing_of_the_host_side() -> None:
    pkg = ROOT / "sdk" / "freshtoken"
    contracts = [(p, "freshtoken") for p in pkg.glob("*.py")]
    contracts += [(p, "freshtoken.egress") for p in (pkg / "egress").glob("*.py")]
    contracts += [(pkg / "kv" / "__init__.py", "freshtoken.kv")]
    bad = {
        f"{p.relative_to(pkg)} -> {m}"
        for p, package in contracts
        for m in _imports(p, package)
        if m.startswith("freshtoken.") and m.split(".")[1] in HOST_SIDE
    }
    assert not bad, sorted(bad)
