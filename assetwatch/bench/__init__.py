"""Benchmark commands and their engines: print measured figures next to published results.

The only package besides :mod:`assetwatch.sim` that reads the simulated world's ground
truth (to score the pipeline against it).
"""
