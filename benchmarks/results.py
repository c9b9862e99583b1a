"""Run the benchmarks and write every one's latest figures into benchmarks/RESULTS.md (what `make bench`
runs).

    .venv/bin/python -m benchmarks.results                   # all of them (an hour or more here)
    .venv/bin/python -m benchmarks.results --only llm,scale  # some; the others keep their last figures

Each benchmark prints its own table and one `RESULT {json}` line (benchmarks/report.py). This collects
those lines into benchmarks/results.json, keyed by benchmark, with the command, when it ran, how long it
took and the machine it ran on, and renders the whole file as one table. A benchmark that fails keeps
its previous figures and is reported as failed, so the table never mixes a half-run into the last good
one silently.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path[:1]:
    sys.path.insert(0, str(ROOT))

from benchmarks.report import PREFIX  # noqa: E402

BENCHMARKS: dict[str, list[str]] = {
    "encoder": ["-m", "benchmarks.encoder"],
    "ingest": ["-m", "benchmarks.ingest"],
    "query": ["-m", "benchmarks.query"],
    "llm": ["-m", "benchmarks.llm", "--fake", "--data-dir", "var/eval"],
    "load": ["-m", "benchmarks.load"],
    "scale": ["-m", "benchmarks.scale"],
}
STORE = ROOT / "benchmarks" / "results.json"
PAGE = ROOT / "benchmarks" / "RESULTS.md"


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{mem_kb / 1024 / 1024:.0f} GiB"
    except OSError:
        memory = "?"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{model or platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {memory}, "
        f"Python {platform.python_version()}, load {load:.1f} at start"
    )


def commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def run(name: str) -> dict[str, Any]:
    """Run one benchmark, echoing its output, and return its record."""
    command = [sys.executable, *BENCHMARKS[name]]
    shown = " ".join(["python", *BENCHMARKS[name]])
    print(f"== {shown}", flush=True)
    record: dict[str, Any] = {
        "command": shown,
        "machine": machine(),
        "commit": commit(),
        "ran_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    started = time.perf_counter()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    figures: dict[str, str] = {}
    for line in process.stdout:
        print(line, end="", flush=True)
        if line.startswith(PREFIX):
            figures.update(json.loads(line[len(PREFIX) :])["figures"])
    record["seconds"] = round(time.perf_counter() - started)
    record["ok"] = process.wait() == 0 and bool(figures)
    record["figures"] = figures
    return record


def render(results: dict[str, dict[str, Any]]) -> str:
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python -m benchmarks.results`); every benchmark's latest figures, the",
        "command that produced them and the machine they ran on. Figures on a shared or loaded machine",
        "say so in the machine column (its load average when the benchmark started).",
        "",
        "| benchmark | figure | value | command | ran | machine |",
        "|---|---|---|---|---|---|",
    ]
    for name in BENCHMARKS:
        record = results.get(name)
        if record is None:
            lines.append(f"| {name} | — | not run yet | `python {' '.join(BENCHMARKS[name])}` | | |")
            continue
        ran = f"{record['ran_at']}, {record['seconds']} s, {record['commit']}"
        if not record.get("ok", True):
            ran += " (last run FAILED; figures from the run before)"
        for n, (figure, value) in enumerate(record["figures"].items()):
            first = n == 0
            lines.append(
                f"| {name if first else ''} | {figure} | {value} | "
                f"{'`' + record['command'] + '`' if first else ''} | {ran if first else ''} | "
                f"{record['machine'] if first else ''} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", help=f"comma-separated, of: {', '.join(BENCHMARKS)}")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    results: dict[str, dict[str, Any]] = json.loads(STORE.read_text()) if STORE.exists() else {}
    failed = []
    for name in names:
        record = run(name)
        if record["ok"]:
            results[name] = record
        else:
            failed.append(name)
            if name in results:
                results[name] = {**results[name], "ok": False}
        STORE.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        PAGE.write_text(render(results), encoding="utf-8")
    print(f"\nwrote {PAGE.relative_to(ROOT)}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
