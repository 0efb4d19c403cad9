"""Benchmarks: end-to-end load (S1-S4) against this project and the reference stack, in-process
fan-out and codec micro-benchmarks. Run ``python -m benchmarks --compare``; see
docs/benchmarks.md."""
