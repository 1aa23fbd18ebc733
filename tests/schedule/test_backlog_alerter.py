"""The logging alerter reports a rising backlog (and the alert name can be switched off)."""

from __future__ import annotations

import logging

import pytest

from freshtoken.events import BacklogRising
from freshtoken.observability.alerts.logging_alerter import LoggingAlerter

EVENT = BacklogRising("*", "*", 1_800_000_000.0, 60_000, 0.2, 32, 600.0, 375.0, 0.625)


def test_the_logging_alerter_reports_the_backlog(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="freshtoken.observability.alerts"):
        LoggingAlerter().freshtoken_backlog_rising(EVENT)
    text = caplog.text
    assert "ALERT backlog" in text and "60000 refresh(es) due" in text and "~375s" in text and "62%" in text


def test_it_can_be_switched_off(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="freshtoken.observability.alerts"):
        LoggingAlerter(on=["refresh_failed"]).freshtoken_backlog_rising(EVENT)
    assert "backlog" not in caplog.text
    assert EVENT.to_dict()["event"] == "BacklogRising"
