"""pytest plugin entry point of the freshtoken testing kit (work in progress)."""
