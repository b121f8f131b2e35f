"""Benchmarks and load tests for the Canvas Note Portal (`make bench`, `python -m bench`)."""
