"""Plugins' public surface: the pluggy manager is private; what a runtime needs (is a plugin there?) is a method."""

from __future__ import annotations

from freshtoken.plugins import Plugins
from freshtoken.providers import generic


def test_has_plugin_answers_without_reaching_into_pluggy() -> None:
    plugins = Plugins(entry_points=False)
    assert not plugins.has_plugin("generic")
    plugins.register(generic, name="generic")
    assert plugins.has_plugin("generic")
    assert "generic" in plugins.providers()
    assert not hasattr(plugins, "pm")  # the pluggy PluginManager is an implementation detail


def test_entry_points_do_not_register_a_plugin_twice() -> None:
    plugins = Plugins()  # the installed freshtoken_* plugins
    names = set(plugins.providers())
    plugins.load_entry_points()  # again: each is already there, skipped
    assert set(plugins.providers()) == names and not plugins.broken
