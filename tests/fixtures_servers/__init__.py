"""Real Temporal and Redis servers for tests, started and stopped by fixtures (see ``servers``)."""
