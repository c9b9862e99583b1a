"""Encoder benchmark: prints figures; it is not a test.

One query embedding (a single short text, the floor under every answer), PyTorch against the int8 ONNX
backend, p50/p95 over `--queries` distinct questions, plus a repeated question served by the query cache;
the start-up cost of each backend; and the ONNX export's recorded agreement with PyTorch. Target:
query embedding <= 5 ms. The ONNX model is exported into `<data dir>/models` on first use (once).

    .venv/bin/python benchmarks/encoder.py [--queries 200] [--data-dir var]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))  # ours, not the `benchmarks` package pysbd installs

from assistant.config import Settings  # noqa: E402
from assistant.embeddings import Embedder, embedder_for, onnx_cache_dir  # noqa: E402
from assistant.onnx_encoder import RECORD_FILE  # noqa: E402
from assistant.text import split_sentences  # noqa: E402
from benchmarks.report import from_rows  # noqa: E402

ROOT = _HERE.parent


def questions(count: int) -> list[str]:
    """Question-length texts (8-14 words) cut from the shipped corpus: distinct, realistic vocabulary."""
    out: list[str] = []
    for note in sorted((ROOT / "corpus").rglob("*.md")):
        body = note.read_text(encoding="utf-8").split("---", 2)[-1]
        for sentence in split_sentences(body):
            words = sentence.split()
            if len(words) >= 8:
                out.append(" ".join(words[: 8 + len(out) % 7]) + "?")
            if len(out) == count:
                return out
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def latency(embedder: Embedder, texts: list[str]) -> tuple[float, float]:
    for text in texts[:10]:  # warm-up: first calls allocate
        embedder.encode([text])
    times = []
    for text in texts:
        start = time.perf_counter()
        embedder.encode([text])
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), percentile(times, 0.95)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--data-dir", type=Path, default=None, help="where the ONNX export is cached")
    args = parser.parse_args(argv)
    settings = Settings()
    if args.data_dir is not None:
        settings.data_dir = args.data_dir
    texts = questions(args.queries)
    rows: list[tuple[str, str, str]] = [("machine", f"{os.cpu_count()} CPUs", f"{len(texts)} questions")]

    # ONNX first, in a process that has not imported torch yet, as a serving process never does:
    # torch's idle thread pool would otherwise share the CPUs with the measured queries.
    settings.embedding.backend = "onnx"
    start = time.perf_counter()
    onnx_embedder = embedder_for(settings)
    onnx_embedder.encode(["load"])
    rows.append(
        (
            "onnx: load + first encode",
            f"{time.perf_counter() - start:.2f} s",
            f"backend in use: {onnx_embedder.backend} (an export on first run takes minutes)",
        )
    )
    folders = sorted(onnx_cache_dir(settings).glob(f"onnx-*/{RECORD_FILE}"))
    if folders:
        record = json.loads(folders[-1].read_text(encoding="utf-8"))
        rows.append(
            (
                "onnx vs torch agreement",
                f"mean cosine {record['mean_cosine']:.4f}, min {record['min_cosine']:.4f}",
                f"{record['sample_sentences']} fixed sentences, at export",
            )
        )
    o50 = o95 = None
    if onnx_embedder.backend == "onnx":
        o50, o95 = latency(onnx_embedder, texts)
        verdict = "met" if o50 <= 5 else "NOT met"
        figure = f"p50 {o50:.1f} ms  p95 {o95:.1f} ms"
        rows.append(("query embedding, onnx", figure, f"target <= 5 ms: {verdict}"))
    onnx_embedder.encode_queries([texts[0]])
    times = []
    for _ in range(200):
        start = time.perf_counter()
        onnx_embedder.encode_queries([texts[0]])
        times.append((time.perf_counter() - start) * 1000)
    rows.append(("repeated question (query cache)", f"p50 {statistics.median(times):.3f} ms", ""))

    settings.embedding.backend = "torch"
    torch_embedder = embedder_for(settings)
    start = time.perf_counter()
    torch_embedder.encode(["load"])
    rows.append(("torch: load + first encode", f"{time.perf_counter() - start:.2f} s", ""))
    t50, t95 = latency(torch_embedder, texts)
    rows.append(("query embedding, torch", f"p50 {t50:.1f} ms  p95 {t95:.1f} ms", ""))
    if o50:
        rows.append(("onnx speed-up, one query", f"{t50 / o50:.1f}x at p50", ""))

    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    print()
    for name, value, note in rows:
        print(f"{name:<{widths[0]}}  {value:<{widths[1]}}  {note}".rstrip())
    from_rows("encoder", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
