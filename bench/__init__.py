"""Benchmarks: `python -m bench.<name>`; each prints its numbers and ratios to a baseline measured in the same run."""
