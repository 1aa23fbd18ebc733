"""Alerting plugins: they implement the event hooks of :mod:`freshtoken.hookspecs`.

* :class:`LoggingAlerter` — writes alerts to the ``freshtoken.observability.alerts`` logger;
* :class:`SlackAlerter` — posts them to a Slack incoming webhook.

Both are registered by :func:`freshtoken.host.factory.build_plugins` from the ``[alerting]`` section.
Neither ever sees a secret: event payloads carry none (errors are redacted by the refresher).
"""

from .logging_alerter import LoggingAlerter
from .slack import SlackAlerter, format_message

__all__ = ["LoggingAlerter", "SlackAlerter", "format_message"]
