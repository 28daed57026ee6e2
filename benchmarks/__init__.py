"""Benchmarks: throughput and latency figures of freshcleo against the sandbox."""
