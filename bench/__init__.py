"""freshtoken benchmarks: each claim of the design measured as a ratio against a baseline from the same run.

One command per benchmark (``python -m bench.<name>``), each writing ``bench/results/<name>.json`` and
printing a table; ``python -m bench.run_all`` runs them all. See ``bench/README.md``.
"""
