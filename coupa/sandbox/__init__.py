"""Coupa sandbox: a local, faithful stand-in for a Coupa instance (auth and reference data).

Run it with `python -m coupa.sandbox --port 8111`; use `coupa.sandbox.testing.running_sandbox`
in tests. Documentation: docs/sandbox.md. This package never imports Django.
"""
