"""Scale benchmark: `answer()` latency, memory and time to ready on stores of 10k and 100k chunks.

Prints figures; it is not a test. Run from the repository root:

    .venv/bin/python -m benchmarks.scale                       # 10,000 and 100,000 chunks
    .venv/bin/python -m benchmarks.scale --chunks 10000 --questions 60

Building stores this size through the model would take hours here (~15 chunks/s), so, as issue 13
allows, the stores are generated and written straight into Chroma; the query path is the real one:

1. Seed: corpus/ indexed with the project's `Indexer` and the real model into `<out>/seed` (once).
2. For each size N: the seed's chunks as they are (so real questions have real answers), plus generated
   chunks up to N: the text of benchmarks/filler.py's sections, ~12 sentences each; each sentence's
   vector a seed sentence's vector plus noise, each chunk's vector the mean of its sentences (as the
   store makes them), all normalised. Chunks go into Chroma's chunks collection; the index cache (the
   memory-mapped sentence matrix, BM25, the chunk and sentence texts) is written by the project's own
   cache writer. Generated sentences are not added to Chroma's sentences collection: nothing on the
   query path reads it, and it is only the cache writer's source.
3. In this process: `AnswerService.answer()` p50/p95 over the evaluation questions (after a warm-up),
   and the plain LangChain recipe on the same chunks collection (`langchain_chroma.Chroma`,
   `similarity_search(q, k=4)`) beside it.
4. `pm-assistant serve` on the store: seconds from start to `/readyz` 200, then peak RSS (VmHWM) after
   answering the questions over HTTP; then a second `serve` on the same data dir, and what it adds: its
   private memory (USS; the mapped index files and libraries are shared, so they are not in it). Both
   with embedded Chroma (each worker holds Chroma's own chunk index) and with a `chroma run` server over
   the same files (the index lives once, in the server), as a multi-worker deployment runs.

`<out>` is benchmarks/out/scale (gitignored) unless `--out` says otherwise; a built store is reused.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path[:1]:
    # pysbd installs a top-level `benchmarks` package into site-packages; ours must win.
    sys.path.insert(0, str(ROOT))
    sys.modules.pop("benchmarks", None)

from assistant.config import Settings  # noqa: E402
from assistant.embeddings import Embedder, embedder_for  # noqa: E402
from assistant.index_cache import _write, generation_folder  # noqa: E402
from assistant.service import AnswerService  # noqa: E402
from assistant.store import StoredChunks, open_store  # noqa: E402
from benchmarks.filler import filler_document  # noqa: E402
from benchmarks.report import emit  # noqa: E402

NOISE = 0.35  # std of the noise added to a seed vector, per unit of its norm spread over 384 dims
PAGE = 2000
READY_TIMEOUT_S = 300.0


def log(message: str) -> None:
    print(message, flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def questions(limit: int) -> list[str]:
    items = []
    for name in ("dev", "train"):
        for line in (ROOT / "tests" / "eval" / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
            if line.strip():
                items.append(json.loads(line)["question"])
    return items[:limit]


def settings_for(data_dir: Path) -> Settings:
    settings = Settings(data_dir=data_dir)
    settings.retrieval.glossary_path = str(ROOT / "corpus" / "glossary.yml")
    return settings


# --- building ----------------------------------------------------------------------------------------


def seed(out: Path, embedder: Embedder) -> Path:
    data = out / "seed"
    marker = data / "seeded.json"
    if not marker.exists():
        from ingest.indexer import Indexer

        log("seed: indexing corpus/ with the real model")
        report = Indexer(settings_for(data), open_store(settings_for(data), embedder)).run([ROOT / "corpus"])
        marker.write_text(json.dumps({"chunks": report.chunks}), encoding="utf-8")
    return data


def _sections(target: int) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(id, text, metadata) of `target` generated chunks: filler sections, in order."""
    made, number = 0, 0
    while made < target:
        doc = filler_document(number)
        number += 1
        title = re.search(r'^title: "(.*)"$', doc.text, re.M)
        parts = re.split(r"^## (.+)$", doc.text, flags=re.M)[1:]
        for n in range(0, len(parts) - 1, 2):
            if made >= target:
                return
            meta = {
                "source": doc.relpath,
                "title": title.group(1) if title else doc.relpath,
                "section": parts[n].strip(),
                "topic": "practice-admin",
            }
            yield f"gen-{number:06d}-{n // 2}", parts[n + 1].strip(), meta
            made += 1


def _split(text: str) -> list[str]:
    """Generated text ends its sentences with '. ': a regex is enough (and 1,000x faster than pysbd)."""
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]


class Generated:
    """The seed's chunks and sentences plus generated ones, in the shape the cache writer reads."""

    def __init__(self, seed_data: Path, embedder: Embedder, total: int) -> None:
        store = open_store(settings_for(seed_data), embedder)
        self.seed = store.all_chunks()
        self.seed_pages = list(store.sentence_pages())
        self.seed_vectors = np.concatenate([p[3] for p in self.seed_pages])
        self.dim = self.seed_vectors.shape[1]
        self.rng = np.random.default_rng(13)
        pick = random.Random(13)
        self.generated = list(_sections(max(0, total - len(self.seed.ids))))
        self.sentences = [_split(text) for _, text, _ in self.generated]
        # Each generated sentence borrows a seed sentence's direction (the space real text occupies).
        self.borrow = [[pick.randrange(len(self.seed_vectors)) for _ in s] for s in self.sentences]

    def _vectors(self, n: int) -> np.ndarray:
        base = self.seed_vectors[np.asarray(self.borrow[n], dtype=np.int64)]
        noisy = base + self.rng.normal(0, NOISE / np.sqrt(self.dim), base.shape).astype(np.float32)
        normalised: np.ndarray = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)
        return normalised

    def sentence_vectors(self) -> Iterator[tuple[int, np.ndarray]]:
        self.rng = np.random.default_rng(13)  # the same vectors on every pass
        for n in range(len(self.generated)):
            yield n, self._vectors(n)

    # --- what the cache writer reads (assistant/index_cache.py `_write`) ---
    def all_chunks(self) -> StoredChunks:
        return StoredChunks(
            self.seed.ids + [g[0] for g in self.generated],
            self.seed.texts + [g[1] for g in self.generated],
            self.seed.metadatas + [g[2] for g in self.generated],
        )

    def sentence_count(self) -> int:
        return len(self.seed_vectors) + sum(len(s) for s in self.sentences)

    def sentence_pages(self) -> Iterator[tuple[list[str], list[int], list[str], np.ndarray]]:
        yield from self.seed_pages
        ids: list[str] = []
        numbers: list[int] = []
        texts: list[str] = []
        vectors: list[np.ndarray] = []
        for n, block in self.sentence_vectors():
            cid = self.generated[n][0]
            ids += [cid] * len(block)
            numbers += list(range(len(block)))
            texts += self.sentences[n]
            vectors.append(block)
            if len(ids) >= PAGE:
                yield ids, numbers, texts, np.concatenate(vectors)
                ids, numbers, texts, vectors = [], [], [], []
        if ids:
            yield ids, numbers, texts, np.concatenate(vectors)


def build(out: Path, seed_data: Path, embedder: Embedder, total: int) -> Path:
    data = out / f"chunks-{total}"
    marker = data / "built.json"
    if marker.exists():
        return data
    shutil.rmtree(data, ignore_errors=True)
    started = time.perf_counter()
    source = Generated(seed_data, embedder, total)
    store = open_store(settings_for(data), embedder)
    seed_store = open_store(settings_for(seed_data), embedder)
    got = seed_store.chunks.get(include=["embeddings", "documents", "metadatas"])
    store.chunks.add(
        ids=got["ids"], embeddings=got["embeddings"], documents=got["documents"], metadatas=got["metadatas"]
    )
    log(f"chunks-{total}: {source.sentence_count()} sentences; {len(source.generated)} chunks to Chroma")
    batch_ids: list[str] = []
    batch_vectors: list[np.ndarray] = []
    batch_docs: list[str] = []
    batch_meta: list[Any] = []
    for n, vectors in source.sentence_vectors():
        cid, text, meta = source.generated[n]
        mean = vectors.mean(axis=0)
        batch_ids.append(cid)
        batch_vectors.append(mean / np.linalg.norm(mean))
        batch_docs.append(text)
        batch_meta.append(meta)
        if len(batch_ids) >= PAGE:
            store.chunks.add(
                ids=batch_ids, embeddings=np.stack(batch_vectors), documents=batch_docs, metadatas=batch_meta
            )
            batch_ids, batch_vectors, batch_docs, batch_meta = [], [], [], []
            if (n + 1) % 20000 < PAGE:
                log(f"  {n + 1} chunks in {time.perf_counter() - started:.0f} s")
    if batch_ids:
        store.chunks.add(
            ids=batch_ids, embeddings=np.stack(batch_vectors), documents=batch_docs, metadatas=batch_meta
        )
    store.bump_generation()
    t_cache = time.perf_counter()
    cache = data / "index-cache" / generation_folder(store.generation())
    cache.mkdir(parents=True, exist_ok=True)
    _write(source, store.generation(), cache)
    log(f"  index cache written in {time.perf_counter() - t_cache:.0f} s")
    marker.write_text(
        json.dumps({"chunks": total, "seconds": time.perf_counter() - started}), encoding="utf-8"
    )
    return data


# --- measuring ---------------------------------------------------------------------------------------


def in_process(data: Path, embedder: Embedder, asks: list[str]) -> dict[str, float]:
    settings = settings_for(data)
    with tempfile.TemporaryDirectory() as history:
        settings.database_url = f"sqlite:///{history}/app.sqlite3"
        service = AnswerService(settings, embedder=embedder)
        service.warm_up()
        for q in asks[:5]:
            service.answer(q)
        ours = []
        for q in asks:
            t0 = time.perf_counter()
            service.answer(q)
            ours.append((time.perf_counter() - t0) * 1000)
        from langchain_chroma import Chroma

        recipe = Chroma(
            client=service.store.client,
            collection_name=service.store.chunks.name,
            embedding_function=embedder,
        )
        for q in asks[:5]:
            recipe.similarity_search(q, k=4)
        plain = []
        for q in asks:
            t0 = time.perf_counter()
            recipe.similarity_search(q, k=4)
            plain.append((time.perf_counter() - t0) * 1000)
    return {
        "answer_p50_ms": statistics.median(ours),
        "answer_p95_ms": percentile(ours, 0.95),
        "recipe_p50_ms": statistics.median(plain),
        "recipe_p95_ms": percentile(plain, 0.95),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def private_mb(pid: int) -> float:
    """The process's unique set size: memory no other process shares (what stopping it would free).
    Mapped index files and shared libraries are not in it: every worker reads one copy of those."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        fields[name] = int(rest.split()[0])
    return (fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)) / 1024


def serve(
    data: Path, history: Path, chroma_port: int | None = None
) -> tuple[subprocess.Popen[bytes], str, float]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMA_")}
    if chroma_port is not None:
        env.update(PMA_CHROMA__HOST="127.0.0.1", PMA_CHROMA__PORT=str(chroma_port))
    env.update(
        PMA_DATA_DIR=str(data),
        PMA_DATABASE_URL=f"sqlite:///{history}",
        PMA_API__RATE_LIMIT_PER_MINUTE="0",
        PMA_RETRIEVAL__GLOSSARY_PATH=str(ROOT / "corpus" / "glossary.yml"),
        PMA_EMBEDDING__CACHE_DIR=os.environ.get("PMA_EMBEDDING__CACHE_DIR", str(data / "models")),
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        HF_HUB_OFFLINE="1",
    )
    binary = Path(sys.executable).parent / "pm-assistant"
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(binary), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"serve exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.perf_counter() - started > READY_TIMEOUT_S:
            process.kill()
            raise RuntimeError("serve was not ready in time")
        time.sleep(0.1)
    return process, base, time.perf_counter() - started


@contextlib.contextmanager
def chroma_server(path: Path) -> Iterator[int]:
    """`chroma run` over the store's own files: where several workers keep one copy of Chroma's index."""
    port = free_port()
    binary = Path(sys.executable).parent / "chroma"
    process = subprocess.Popen(
        [str(binary), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("chroma run did not start")
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=60)


def ask_all(base: str, asks: list[str]) -> None:
    with httpx.Client(base_url=base, timeout=60) as http:
        for q in asks:
            http.post("/v1/ask", json={"question": q}).raise_for_status()


def over_http(data: Path, asks: list[str], chroma_port: int | None = None) -> dict[str, float]:
    """One worker, then a second beside it: time to ready, peak RSS, and each one's private memory
    (USS) after answering the questions: a second worker adds its USS to the machine."""
    with tempfile.TemporaryDirectory() as tmp:
        history = Path(tmp) / "app.sqlite3"
        first, base, ready = serve(data, history, chroma_port)
        try:
            ask_all(base, asks)
            one_peak = status_kb(first.pid, "VmHWM") / 1024
            second, base2, ready2 = serve(data, history, chroma_port)
            try:
                ask_all(base2, asks)
                two_peak = status_kb(second.pid, "VmHWM") / 1024
                one_private, two_private = private_mb(first.pid), private_mb(second.pid)
            finally:
                second.terminate()
                second.wait(timeout=30)
        finally:
            first.terminate()
            first.wait(timeout=30)
    return {
        "ready_s": ready,
        "ready_second_s": ready2,
        "rss_peak_one_mb": one_peak,
        "rss_peak_second_mb": two_peak,
        "private_one_mb": one_private,
        "private_second_mb": two_private,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", default="10000,100000", help="store sizes, comma-separated")
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "scale")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args.out.mkdir(parents=True, exist_ok=True)
    embedder = embedder_for(settings_for(args.out / "seed"))
    seed_data = seed(args.out, embedder)
    asks = questions(args.questions)
    rows = []
    for total in (int(x) for x in args.chunks.split(",")):
        data = build(args.out, seed_data, embedder, total)
        measured = in_process(data, embedder, asks)
        for mode in ("embedded", "chroma server"):
            if mode == "embedded":
                workers = over_http(data, asks)
            else:
                with chroma_server(data / "chroma") as port:
                    workers = over_http(data, asks, port)
            row: dict[str, Any] = {"chunks": total, "chroma": mode, **measured, **workers}
            rows.append(row)
            log(json.dumps({k: round(v, 1) if isinstance(v, float) else v for k, v in row.items()}))
    log(
        f"\n{'chunks':>7} {'chroma':>13} {'answer p50':>10} {'p95':>6} {'recipe p50':>10} {'p95':>6} "
        f"{'ready s':>7} {'RSS one MB':>10} {'USS one MB':>10} {'USS 2nd MB':>10}"
    )
    for r in rows:
        log(
            f"{r['chunks']:>7} {r['chroma']:>13} {r['answer_p50_ms']:>10.1f} {r['answer_p95_ms']:>6.1f} "
            f"{r['recipe_p50_ms']:>10.1f} {r['recipe_p95_ms']:>6.1f} {r['ready_s']:>7.1f} "
            f"{r['rss_peak_one_mb']:>10.0f} {r['private_one_mb']:>10.0f} {r['private_second_mb']:>10.0f}"
        )
    log(
        "targets: answer p95 <= 60 ms at 10k, <= 150 ms at 100k; RSS <= 1.2 GB at 100k; 2nd worker <= 300 MB;"
    )
    log("ready <= 10 s at 100k")
    named: dict[str, str] = {}
    for r in rows:
        at = f"{r['chunks']} chunks, Chroma {r['chroma']}"
        named[f"answer() p50 / p95, {at}"] = f"{r['answer_p50_ms']:.1f} / {r['answer_p95_ms']:.1f} ms"
        named[f"LangChain recipe query p50 / p95, {at}"] = (
            f"{r['recipe_p50_ms']:.1f} / {r['recipe_p95_ms']:.1f} ms"
        )
        named[f"serve: ready, {at}"] = f"{r['ready_s']:.1f} s"
        named[f"serve: peak RSS of one process, {at}"] = f"{r['rss_peak_one_mb']:.0f} MB"
        named[f"serve: a second worker's private memory (USS), {at}"] = (
            f"{r['private_second_mb']:.0f} MB (its peak RSS {r['rss_peak_second_mb']:.0f} MB)"
        )
    emit("scale", named)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
