"""Interop tests against real OAuth 2.0 authorization servers (see conftest.py)."""
