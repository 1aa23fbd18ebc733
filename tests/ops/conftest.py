"""The shared sandbox and environment fixtures live in tests/admin/support.py."""

from tests.admin.support import env, sandbox  # noqa: F401 - fixtures
