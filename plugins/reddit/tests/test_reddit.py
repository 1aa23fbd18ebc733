"""Reddit: the kit (Basic auth, errors in 200), the required User-Agent on the wire.

Sources: https://github.com/reddit-archive/reddit/wiki/OAuth2 (token and authorize endpoints, duration=permanent,
Basic client authentication) and Reddit's API rules on a unique, descriptive User-Agent
(https://github.com/reddit-archive/reddit/wiki/API). The wiki's documented token responses and errors are replayed
in test_reddit_replay.py.
"""

import pytest
from freshtoken_reddit import RedditProvider

from freshtoken import ConfigError, Plugins
from freshtoken.testing import ProviderConformance, run_async

UA = "web:io.freshtoken.kit:v0.1 (by /u/freshtoken_kit)"
P = RedditProvider(user_agent=UA)


class TestRedditConformance(ProviderConformance):
    provider = P

    def test_user_agent_is_sent(self) -> None:
        _, outcome, _ = run_async(lambda: self.refresh_once(self.success()))
        assert outcome.kind == "refreshed"
        assert self.endpoint.requests[-1].headers["user-agent"] == UA


def test_a_user_agent_is_required() -> None:
    with pytest.raises(ConfigError, match="user_agent"):
        Plugins().provider("reddit", {})
    with pytest.raises(ConfigError, match="user_agent"):
        Plugins().provider("reddit", {"user_agent": "x"})
