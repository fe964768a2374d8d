"""Benchmark commands: print measured figures next to published results."""
