"""``freshtoken new-provider NAME``: scaffold a provider plugin distribution ``freshtoken-NAME``.

The package it writes installs (``pip install -e``) and passes its own tests as generated: a pyproject
with the ``freshtoken`` entry point, the provider module, a README, and tests wired to the conformance kit
(:class:`freshtoken.testing.ProviderConformance`) with a replay of a documented response to fill in.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import click

#: A provider name: lower-case letters and digits, words joined by single hyphens or underscores.
NAME = re.compile(r"[a-z][a-z0-9]{0,30}(?:[-_][a-z0-9]{1,30}){0,4}")
#: What a generated module may embed (in a string literal, a docstring): no quotes, backslashes, newlines.
SAFE_URL = re.compile(r"https://[A-Za-z0-9._~:/?#@!$&()*+,;=%{}\[\]-]{1,500}")
SAFE_TITLE = re.compile(r"[A-Za-z0-9 ._()&+-]{1,60}")

PYPROJECT = '''[build-system]
requires = ["hatchling>=1.24"]
build-backend = "hatchling.build"

[project]
name = "freshtoken-{name}"
version = "0.1.0"
description = "{title} provider for freshtoken."
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["freshtoken>=0.1"]

[project.entry-points.freshtoken]
{name} = "{module}"

[tool.hatch.build.targets.wheel]
packages = ["src/{module}"]
'''

MODULE = '''"""{title}: refresh behaviour for freshtoken.

Declare what differs from RFC 6749 as fields; override a method only where the provider really differs
(see ``freshtoken.provider.Provider``: ``token_payload``, ``parse_expiry``, ``classify_error``,
``build_refresh_request``). A provider's own error codes are a table, not code: ``error_aliases``.
"""

from __future__ import annotations

{imports}from freshtoken import AuthMethod, Provider, ProviderRegistrar, hookimpl
{constants}

class {cls}(Provider):
    name = "{name}"
{account_fields}
    token_url: str = "{token_url}"  # noqa: S105 - a URL, not a secret
    auth_method: AuthMethod = "client_secret_basic"
    # default_lifetime: float | None = 3600.0   # assumed when a response has no expires_in; None: never expires
    # rotation_grace: float | None = None       # seconds a rotated-out refresh token still works


@hookimpl
def freshtoken_register_providers(register: ProviderRegistrar) -> None:
    register({cls})
'''

TESTS = '''"""{title}: the freshtoken conformance kit, plus replays of the provider's documented responses."""

from freshtoken import ReauthRequired, TokenSet
from freshtoken.testing import KIT_NOW, ProviderConformance, replay
from {module} import {cls}

P = {cls}()


class Test{cls}Conformance(ProviderConformance):
    provider = P
{account_data}
    # Override success_body / error_body / error_status / expected_lifetime where the provider differs.


def test_documented_refresh_response() -> None:
    # Paste the provider's documented refresh response here.
    tokens = replay(P, 200, {{"access_token": "at-1", "token_type": "Bearer", "expires_in": 3600,
                             "refresh_token": "rt-2"}})
    assert isinstance(tokens, TokenSet)
    assert tokens.expires_at == KIT_NOW + 3600
    assert tokens.refresh_token is not None


def test_documented_invalid_grant() -> None:
    body = {{"error": "invalid_grant", "error_description": "The refresh token is invalid."}}
    assert isinstance(replay(P, 400, body), ReauthRequired)
'''

README = '''# freshtoken-{name}

The {title} provider for [freshtoken](https://github.com/freshtoken/freshtoken), registered as provider
`{name}`.

## Install

```
pip install -e .            # then: freshtoken providers   (lists "{name}")
```

## Configure

```toml
[clients.my-{name}]
provider = "{name}"
client_id = "..."
client_secret = {{ env = "{env}_CLIENT_SECRET" }}
```

## Test

```
pytest tests
```

The tests run freshtoken's conformance kit against a local token endpoint (success with and without
rotation, missing expiry, 429 with Retry-After, 5xx, invalid_grant, errors in HTTP 200, malformed JSON, a
slow response, hostile account data) and replay the provider's documented responses.
'''


def scaffold(name: str, target: Path, *, token_url: str, title: str | None = None, force: bool = False) -> list[Path]:
    """Write the plugin package for provider ``name`` into ``target``; returns the files written."""
    if not NAME.fullmatch(name):
        raise click.BadParameter(
            f"{name!r} is not a valid provider name (lower-case letters and digits, words joined by '-' or '_')",
            param_hint="NAME",
        )
    url = urlsplit(token_url)
    if url.scheme != "https" or not url.hostname or not SAFE_URL.fullmatch(token_url):
        raise click.BadParameter(f"{token_url!r} is not an https URL", param_hint="--token-url")
    if title is not None and not SAFE_TITLE.fullmatch(title):
        raise click.BadParameter(f"{title!r}: use letters, digits, spaces and simple punctuation", param_hint="--title")
    if target.exists() and any(target.iterdir()) and not force:
        raise click.ClickException(f"{target} exists and is not empty (use --force to write into it)")
    module = "freshtoken_" + name.replace("-", "_")
    words = re.split(r"[-_]", name)
    fields = list(dict.fromkeys(re.findall(r"\{([a-z_][a-z0-9_]*)\}", token_url)))
    if fields:
        imports = "from collections.abc import Mapping\nfrom typing import ClassVar\n\n"
        patterns = ", ".join(f'"{f}": LABEL' for f in fields)
        account_fields = (
            "    # Account data the token URL needs, each a pattern the WHOLE value must match. LABEL is one DNS\n"
            "    # label; tighten it to what the provider issues (e.g. r\"[a-z0-9-]+\\.example\\.com\" for a host).\n"
            f"    account_fields: ClassVar[Mapping[str, str]] = {{{patterns}}}\n"
        )
        constants = (
            "\n#: One DNS label: letters, digits, inner hyphens. Never \\w, \\d or IGNORECASE (Unicode look-alikes).\n"
            'LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"\n'
        )
        account_data = "    account_data = {" + ", ".join(f'"{f}": "acme"' for f in fields) + "}\n"
    else:
        imports = ""
        constants = ""
        account_fields = (
            "    # Account data a templated token URL needs, each a pattern the whole value must match:\n"
            "    # account_fields: ClassVar[Mapping[str, str]] = {\"subdomain\": LABEL}   (a tight regex)\n"
        )
        account_data = "    # account_data = {\"subdomain\": \"acme\"}       # if the token URL has placeholders\n"
    values = {
        "imports": imports,
        "constants": constants,
        "account_fields": account_fields,
        "account_data": account_data,
        "name": name,
        "module": module,
        "cls": "".join(w.capitalize() for w in words) + "Provider",
        "title": title or " ".join(w.capitalize() for w in words),
        "token_url": token_url,
        "env": name.replace("-", "_").upper(),
    }
    files = {
        target / "pyproject.toml": PYPROJECT,
        target / "README.md": README,
        target / "src" / module / "__init__.py": MODULE,
        target / "tests" / f"test_{module.removeprefix('freshtoken_')}.py": TESTS,
    }
    written = []
    for path, template in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(**values), encoding="utf-8")
        written.append(path)
    return written


@click.command("new-provider")
@click.argument("name")
@click.option("--output", "-o", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory to write the package into (default: ./freshtoken-NAME).")
@click.option("--token-url", default="https://auth.example.com/oauth/token", show_default=True,
              help="The provider's token endpoint (https).")
@click.option("--title", default=None, help="Human name of the provider (default: from NAME).")
@click.option("--force", is_flag=True, help="Write into an existing, non-empty directory.")
def new_provider(name: str, output: Path | None, token_url: str, title: str | None, force: bool) -> None:
    """Scaffold a provider plugin package freshtoken-NAME, wired to the conformance kit."""
    target = output or Path(f"freshtoken-{name}")
    written = scaffold(name, target, token_url=token_url, title=title, force=force)
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"\nnext: pip install -e {target} && pytest {target / 'tests'}")
