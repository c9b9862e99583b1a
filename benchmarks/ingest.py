"""Ingest benchmark: prints figures; it is not a test.

1. Throughput: the whole pipeline (load, clean, chunk, embed, Chroma, record manager, reconcile) in
   chunks/s over a corpus, against raw `model.encode` of the same chunk texts in the same process.
   Target: the pipeline within 15% of raw encode on PyTorch, and >= 1.5x raw PyTorch encode on the
   int8 ONNX backend (`--backend`, default the settings' backend; raw encode is always PyTorch's
   `model.encode`). The pipeline embeds each sentence once and builds the chunk vector from them (see
   assistant/store.py), so encode of exactly the texts the pipeline passed to the model (recorded during
   the run, on the pipeline's backend) is printed too: the model work it really does.
2. Re-ingest of an unchanged tree of `--docs` small generated documents, in-process with the model
   already loaded. Target: <= 5 s for 1,000 documents. Also timed as the `pm-ingest` command (a new
   process, which never loads the model when nothing changed).

    .venv/bin/python benchmarks/ingest.py [--docs 1000] [--corpus corpus] [--batch-size N] [--no-cli]
                                          [--backend onnx|torch]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as `python benchmarks/ingest.py`, this file's folder comes first on sys.path and its name would
# shadow the `ingest` package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))  # ours, not the `benchmarks` package pysbd installs

from assistant.config import Settings  # noqa: E402
from assistant.embeddings import Embedder, embedder_for, get_embedder  # noqa: E402
from assistant.store import open_store  # noqa: E402
from assistant.text import word_count  # noqa: E402
from benchmarks.report import from_rows  # noqa: E402
from ingest.indexer import Indexer  # noqa: E402

ROOT = _HERE.parent
VOCAB = [
    "practice",
    "manager",
    "rota",
    "staff",
    "funding",
    "contract",
    "claim",
    "patient",
    "clinical",
    "session",
    "pharmacist",
    "nurse",
    "partner",
    "budget",
    "payment",
    "network",
    "quarter",
    "appraisal",
    "training",
    "locum",
    "reception",
    "premises",
    "lease",
    "audit",
    "deadline",
    "estates",
    "telephony",
]


class RecordingEmbedder(Embedder):
    """The real embedder, remembering every text the pipeline asks it to encode."""

    def __init__(self, model: Embedder, batch_size: int | None = None) -> None:
        model.load()
        self.__dict__.update(model.__dict__)  # the same loaded model, backend and id
        self.batch_size = batch_size or model.batch_size
        self.texts: list[str] = []

    def encode(self, texts: list[str]):  # type: ignore[no-untyped-def]
        self.texts.extend(texts)
        return super().encode(texts)


def settings_for(data_dir: Path) -> Settings:
    settings = Settings(data_dir=data_dir)
    settings.chroma.host = None  # always the embedded store in the temporary dir
    return settings


def indexer_for(data_dir: Path, embedder: Embedder) -> Indexer:
    settings = settings_for(data_dir)
    return Indexer(settings, open_store(settings, embedder))


def timed(fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def write_small_docs(root: Path, count: int) -> None:
    """`count` distinct one-chunk notes of ~30 words in a few folders."""
    rng = random.Random(7)
    for n in range(count):
        folder = root / f"topic-{n % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        sentences = [
            f"Note {n} point {i} says the " + " ".join(rng.choice(VOCAB) for _ in range(10)) + "."
            for i in range(2)
        ]
        (folder / f"note-{n:04d}.md").write_text(
            f"---\ntitle: Note {n}\ntopic: topic-{n % 10}\n---\n\n## Facts\n\n{' '.join(sentences)}\n",
            encoding="utf-8",
        )


def throughput(corpus: Path, embedder: Embedder, work: Path) -> list[tuple[str, str, str]]:
    model = get_embedder(None, embedder.batch_size).load()  # raw PyTorch, whatever the pipeline runs
    recorder = RecordingEmbedder(embedder)
    indexer = indexer_for(work / "throughput", recorder)
    report, pipeline_s = timed(lambda: indexer.run([corpus]))
    if report.failed:
        print(f"warning: {len(report.failed)} files failed: {report.failed[:3]}", file=sys.stderr)
    texts = indexer.store.all_chunks().texts
    sentences = recorder.texts

    def raw(batch: list[str]) -> None:
        model.encode(
            batch, batch_size=embedder.batch_size, normalize_embeddings=True, show_progress_bar=False
        )

    _, chunks_s = timed(lambda: raw(texts))
    _, sentences_s = timed(lambda: embedder.encode(sentences))
    n = len(texts)
    words = sum(word_count(t) for t in texts) / max(n, 1)
    ratio = (n / pipeline_s) / (n / chunks_s)
    target = 1.5 if embedder.backend == "onnx" else 0.85
    return [
        ("corpus", f"{corpus} ({report.documents} docs, {n} chunks, {words:.0f} words/chunk)", ""),
        ("pipeline ingest", f"{n / pipeline_s:.1f} chunks/s ({pipeline_s:.1f} s)", f"on {embedder.model_id}"),
        (
            "raw encode, chunk texts",
            f"{n / chunks_s:.1f} chunks/s ({chunks_s:.1f} s; truncated at {model.max_seq_length} tokens)",
            "",
        ),
        (
            f"{embedder.backend} encode, the pipeline's texts",
            f"{n / sentences_s:.1f} chunks/s ({sentences_s:.1f} s for {len(sentences)} texts: "
            f"{len(sentences) / sentences_s:.1f}/s)",
            "",
        ),
        (
            "pipeline / raw PyTorch chunk encode",
            f"{ratio:.2f}",
            f"target >= {target}: " + ("met" if ratio >= target else "NOT met"),
        ),
        (
            "pipeline / raw encode of its texts",
            f"{sentences_s / pipeline_s:.2f}",
            f"non-model work ~{max(pipeline_s - sentences_s, 0):.1f} s",
        ),
    ]


def corpus_reingest(corpus: Path, embedder: Embedder, work: Path) -> list[tuple[str, str, str]]:
    """The unchanged re-run over the throughput corpus: real document sizes, scaled to 1,000 documents."""
    again, again_s = timed(lambda: indexer_for(work / "throughput", embedder).run([corpus]))
    docs = again.skipped
    projected = again_s * 1000 / max(docs, 1)
    return [
        (
            "re-ingest unchanged corpus",
            f"{again_s:.2f} s for {docs} docs, {again.chunks} chunks = {projected:.1f} s per 1,000 docs",
            "target <= 5 s per 1,000: " + ("met" if projected <= 5 else "NOT met"),
        )
    ]


def reingest(
    docs: int, embedder: Embedder, work: Path, cli: bool, models: Path
) -> list[tuple[str, str, str]]:
    tree = work / "tree"
    write_small_docs(tree, docs)
    data = work / "reingest"
    # Building the index is set-up, not what is measured: a larger encode batch makes it quicker here.
    builder = RecordingEmbedder(embedder, batch_size=max(embedder.batch_size, 64))
    first, first_s = timed(lambda: indexer_for(data, builder).run([tree]))
    second, second_s = timed(lambda: indexer_for(data, embedder).run([tree]))
    assert (second.skipped, second.added, second.updated) == (docs, 0, 0), second
    rows = [
        (
            "first ingest (set-up)",
            f"{docs} docs, {first.chunks} chunks in {first_s:.1f} s",
            f"batch size {builder.batch_size}",
        ),
        (
            "re-ingest unchanged (in-process)",
            f"{second_s:.2f} s ({docs / second_s:.0f} docs/s)",
            f"target <= {5 * docs / 1000:.1f} s: " + ("met" if second_s <= 5 * docs / 1000 else "NOT met"),
        ),
    ]
    if cli:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PMA_")}
        env["PMA_EMBEDDING__BACKEND"] = embedder.backend
        if embedder.backend == "onnx":  # the export already made, as a deployed data dir would hold
            (data / "models").symlink_to(models, target_is_directory=True)
        command = [sys.executable, "-m", "ingest.cli", str(tree), "--data-dir", str(data), "--json"]
        done, cli_s = timed(
            lambda: subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, check=False)
        )
        status = "ok" if done.returncode == 0 else f"exit {done.returncode}"
        loads = "ONNX session only" if embedder.backend == "onnx" else "no model load"
        figure = f"{cli_s:.2f} s incl. start-up, {loads}"
        rows.append(("re-ingest unchanged (pm-ingest)", figure, status))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=1000, help="size of the re-ingest tree (default 1000)")
    parser.add_argument(
        "--corpus", type=Path, default=ROOT / "corpus", help="throughput corpus (default: the shipped one)"
    )
    parser.add_argument("--no-cli", action="store_true", help="skip the pm-ingest subprocess timing")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=Settings().embedding.batch_size,
        help="encode batch size for the pipeline and raw encode alike (default: the settings' value)",
    )
    parser.add_argument(
        "--backend",
        choices=["onnx", "torch"],
        default=Settings().embedding.backend,
        help="the pipeline's encoder (default: the settings' value); the ONNX export is cached in ./var",
    )
    args = parser.parse_args(argv)

    settings = Settings()
    settings.embedding.batch_size = args.batch_size
    settings.embedding.backend = args.backend
    embedder = embedder_for(settings)
    _, load_s = timed(embedder.load)
    embedder.encode(["warm-up sentence for the model"] * embedder.batch_size)
    rows = [
        (
            "model load",
            f"{load_s:.1f} s",
            f"{os.cpu_count()} CPUs, batch size {embedder.batch_size}, backend {embedder.backend}",
        )
    ]
    with tempfile.TemporaryDirectory(prefix="pma-bench-ingest-") as tmp:
        work = Path(tmp)
        rows += throughput(args.corpus.resolve(), embedder, work)
        rows += corpus_reingest(args.corpus.resolve(), embedder, work)
        models = settings.data_dir.resolve() / "models"
        rows += reingest(args.docs, embedder, work, cli=not args.no_cli, models=models)

    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    print()
    for name, value, note in rows:
        print(f"{name:<{widths[0]}}  {value:<{widths[1]}}  {note}".rstrip())
    from_rows("ingest", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
