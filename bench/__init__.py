"""Benchmarks, run by hand (see the README's performance section); not part of the test suite."""
