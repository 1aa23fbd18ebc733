"""What operators see: Prometheus metrics and the alerters (log, Slack) fed by the event hooks."""
