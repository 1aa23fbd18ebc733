"""Testing kit for provider plugins (work in progress)."""
