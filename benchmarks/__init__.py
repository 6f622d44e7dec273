"""Runnable benchmarks (each file is a script; see its docstring)."""
