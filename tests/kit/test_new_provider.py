"""``freshtoken new-provider``: the scaffolded package installs (``pip install -e``) into a fresh
environment and passes its own tests as generated, and its provider is listed by ``freshtoken providers``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from click.testing import CliRunner

from freshtoken.cli.new_provider import new_provider, scaffold


def _venv_over_ours(root: Path) -> Path:
    """A fresh venv that sees this environment's packages (freshtoken, pytest, hatchling) through a site
    directory, so that installing into it leaves the project's venv untouched and needs no network."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    Path(purelib, "zz_freshtoken_dev.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    return python


def test_scaffold_installs_and_passes_its_own_tests(tmp_path: Path) -> None:
    """Two scaffolds, a fixed token URL and one templated from account data, installed in one pip call."""
    packages = {
        "acme-cloud": (tmp_path / "plain", "https://login.acme.example/oauth2/token"),
        "zeta": (tmp_path / "templated", "https://{tenant}.zeta.example/oauth/{region}/token"),
    }
    for name, (pkg, url) in packages.items():
        result = CliRunner().invoke(new_provider, [name, "-o", str(pkg), "--token-url", url])
        assert result.exit_code == 0, result.output
    assert (tmp_path / "plain" / "src" / "freshtoken_acme_cloud" / "__init__.py").is_file()
    assert '"tenant": LABEL, "region": LABEL' in (tmp_path / "templated" / "src" / "freshtoken_zeta" /
                                                  "__init__.py").read_text()

    python = _venv_over_ours(tmp_path / "venv")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    editables = [arg for pkg, _ in packages.values() for arg in ("-e", str(pkg))]
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
         "--no-build-isolation", "--no-index", *editables],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert install.returncode == 0, install.stdout + install.stderr

    listed = subprocess.run([str(python), "-c", "from freshtoken.cli import main; main()", "providers", "--json"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)["providers"]}
    assert rows["acme-cloud"]["distribution"] == "freshtoken-acme-cloud"
    assert rows["zeta"]["distribution"] == "freshtoken-zeta"

    tests = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
         *(str(pkg / "tests") for pkg, _ in packages.values())],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    assert " passed" in tests.stdout and "failed" not in tests.stdout


@pytest.mark.parametrize("name", ["Acme", "acme cloud", "1acme", "acme--x", "acme/../x", "", "acme.", "ácme"])
def test_bad_names_are_refused(tmp_path: Path, name: str) -> None:
    result = CliRunner().invoke(new_provider, [name, "-o", str(tmp_path / "p")])
    assert result.exit_code == 2 and "not a valid provider name" in result.output
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("url", ["http://x.example/token", "https://x.example/t\"+__import__('os')+\"",
                                 "https://x.example/t\\", "https://x.example/t oken", "ftp://x.example/t", "https:///t"])
def test_refuses_unsafe_token_urls(tmp_path: Path, url: str) -> None:
    result = CliRunner().invoke(new_provider, ["acme", "-o", str(tmp_path / "p"), "--token-url", url])
    assert result.exit_code == 2 and "not an https URL" in result.output
    assert not (tmp_path / "p").exists()


def test_refuses_unsafe_title_and_existing_directory(tmp_path: Path) -> None:
    result = CliRunner().invoke(new_provider, ["acme", "-o", str(tmp_path / "p"), "--title", 'A"""; import os'])
    assert result.exit_code == 2 and not (tmp_path / "p").exists()
    (tmp_path / "q").mkdir()
    (tmp_path / "q" / "keep.txt").write_text("mine")
    result = CliRunner().invoke(new_provider, ["acme", "-o", str(tmp_path / "q")])
    assert result.exit_code != 0 and "not empty" in result.output
    assert scaffold("acme", tmp_path / "q", token_url="https://a.example/t", force=True)
    assert (tmp_path / "q" / "keep.txt").read_text() == "mine"
