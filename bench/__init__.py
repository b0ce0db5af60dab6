"""Benchmarks. Run each one with `python -m bench.<module>`."""
