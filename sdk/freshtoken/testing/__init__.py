"""freshtoken's testing kit for provider plugins.

* :class:`ProviderConformance` — subclass it with ``provider = MyProvider()`` for the conformance suite;
* :func:`replay` — parse a documented response: ``replay(provider, 400, {...})`` -> TokenSet | RefreshError;
* :class:`KitRun`, :class:`TokenEndpoint`, :class:`Reply` — write your own scenarios against the real
  refresher and a local HTTP token endpoint;
* :func:`hostile_values` — account-data values that must never reach a URL;
* :func:`authorize_parts`, :func:`code_exchange_on_wire` — the authorization side as sent, for replaying a
  provider's documented authorize URL and code exchange.

The pytest plugin (``freshtoken.testing.pytest_plugin``) is registered as a ``pytest11`` entry point, so
its fixtures (``freshtoken_endpoint``, ``freshtoken_run``) are available wherever freshtoken is installed.
"""

from .conformance import AT1, RETRY_AFTER, RT0, RT1, ProviderConformance, run_async
from .endpoint import Recorded, RedirectTransport, Reply, TokenEndpoint
from .harness import KIT_NOW, KitRun, hostile_values, kit_client, replay
from .wire import OnTheWire, authorize_parts, code_exchange_on_wire

__all__ = [
    "AT1",
    "KIT_NOW",
    "RETRY_AFTER",
    "RT0",
    "RT1",
    "KitRun",
    "OnTheWire",
    "ProviderConformance",
    "Recorded",
    "RedirectTransport",
    "Reply",
    "TokenEndpoint",
    "authorize_parts",
    "code_exchange_on_wire",
    "hostile_values",
    "kit_client",
    "replay",
    "run_async",
]
