"""One line each benchmark prints for `benchmarks/results.py` to collect: `RESULT {json}`.

Each benchmark keeps its own human-readable table; this line carries the same figures, named, so
`make bench` can put every benchmark's latest figures into one table (benchmarks/RESULTS.md) without
parsing tables."""

from __future__ import annotations

import json

PREFIX = "RESULT "


def emit(benchmark: str, figures: dict[str, str]) -> None:
    """`figures`: name -> the value as the benchmark reports it, with its unit (and target, if any)."""
    print(PREFIX + json.dumps({"benchmark": benchmark, "figures": figures}), flush=True)


def from_rows(benchmark: str, rows: list[tuple[str, str, str]]) -> None:
    """For benchmarks whose table is (name, value, note) rows."""
    emit(benchmark, {name: f"{value} ({note})" if note else value for name, value, note in rows})
