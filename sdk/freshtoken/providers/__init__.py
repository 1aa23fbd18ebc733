"""Providers shipped with the core. Only the generic declarative provider lives here; every named
provider is its own ``freshtoken-<name>`` distribution under ``plugins/``."""
