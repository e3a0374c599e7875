"""Benchmarks of the Coupa integration: `make bench` (python -m bench) and the older
single-purpose scripts beside it. The harness runs every case of docs/benchmarks.md with
the product's code and a naive baseline alternating, and writes the JSON and the report."""
