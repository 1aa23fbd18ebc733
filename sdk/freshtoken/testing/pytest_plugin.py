"""The freshtoken pytest plugin (entry point ``pytest11: freshtoken``), loaded wherever freshtoken is installed.

Fixtures:

* ``freshtoken_endpoint`` — a session-wide scripted token endpoint on 127.0.0.1
  (:class:`~freshtoken.testing.endpoint.TokenEndpoint`), reset before each test that asks for it;
* ``freshtoken_run`` — a factory of :class:`~freshtoken.testing.harness.KitRun` bound to that endpoint.

The conformance suite itself is :class:`freshtoken.testing.ProviderConformance`; subclass it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .endpoint import TokenEndpoint
from .harness import KitRun


@pytest.fixture(scope="session")
def _freshtoken_endpoint_session() -> Iterator[TokenEndpoint]:
    with TokenEndpoint() as endpoint:
        yield endpoint


@pytest.fixture
def freshtoken_endpoint(_freshtoken_endpoint_session: TokenEndpoint) -> TokenEndpoint:
    _freshtoken_endpoint_session.reset()
    return _freshtoken_endpoint_session


@pytest.fixture
def freshtoken_run(freshtoken_endpoint: TokenEndpoint) -> Callable[..., KitRun]:
    """``freshtoken_run(provider, account_data=..., client=...)`` -> an unopened :class:`KitRun`."""

    def make(provider: Any, **kw: Any) -> KitRun:
        return KitRun(provider, freshtoken_endpoint, **kw)

    return make
