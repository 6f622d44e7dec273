"""Fault and bad-input tests: hostile keys, paths, archives and processes."""
