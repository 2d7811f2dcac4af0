"""Latency measurement on real runtimes: runners, statistics, fingerprint, results store."""
