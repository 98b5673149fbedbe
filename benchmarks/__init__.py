"""Benchmarks: `python -m benchmarks.lipsdp_scaling` (see benchmarks/README.md)."""
