"""Xero: the kit (incl. the 30-minute grace retry with the previous refresh token), plus documented responses."""

from freshtoken_xero import XeroProvider

from freshtoken import ReauthRequired, TokenSet
from freshtoken.testing import KIT_NOW, RT0, RT1, ProviderConformance, Reply, replay, run_async

P = XeroProvider()


class TestXeroConformance(ProviderConformance):
    provider = P
    lifetime = 1800

    def test_grace_window_is_thirty_minutes(self) -> None:
        async def scenario() -> None:
            async with self.run() as run:
                await run.register(RT0)
                self.endpoint.script(self.success(RT1))
                assert (await run.alarm()).kind == "refreshed"
                run.clock.advance(1801)  # past Xero's window: the previous token is not tried
                self.endpoint.script(Reply(400, {"error": "invalid_grant"}))
                assert (await run.refresh_now()).kind == "reauth_required"
                assert len(self.endpoint.requests) == 2

        run_async(scenario)


def test_documented_refresh_response() -> None:
    tokens = replay(P, 200, {"id_token": "eyJhbGciOi...", "access_token": "eyJhbGciOiJSUzI1NiIsImtpZCI6IjFDQUY4RTY2",
                             "expires_in": 1800, "token_type": "Bearer", "refresh_token": "dd2d2c4b1b1e4f7",
                             "scope": "openid profile email offline_access"})
    assert isinstance(tokens, TokenSet)
    assert tokens.expires_at == KIT_NOW + 1800 and tokens.refresh_token is not None


def test_documented_invalid_grant() -> None:
    assert isinstance(replay(P, 400, {"error": "invalid_grant"}), ReauthRequired)
