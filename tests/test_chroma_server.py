"""The store behind a real `chroma run` server (what `PMA_CHROMA__HOST` selects).

One server per module, on a free local port. Two `AnswerService`s with separate data dirs stand for two
processes (say two API workers) sharing the server: each keeps its own BM25/sentence cache in its data
dir, and the store's generation marker makes the one that did not ingest rebuild its cache.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import child_env, make_settings

from assistant.embeddings import Embedder
from assistant.service import AnswerService
from ingest.indexer import Indexer

CHROMA = Path(sys.executable).parent / "chroma"
START_TIMEOUT_S = 90

FIRE_DOC = """---
title: Brackenridge surgery fire safety
topic: premises
published: 2025-02-03
reviewed: 2026-01-10
url: https://example.org/brackenridge/fire
---
Fire drills at Brackenridge surgery take place every six months, on the first Tuesday of March and
of September.

## Fire marshals

The Brackenridge fire marshal records each drill in the premises log and checks the extinguishers.
"""

PARKING_DOC = """---
title: Brackenridge surgery staff parking permits
topic: premises
published: 2025-06-02
reviewed: 2026-01-10
url: https://example.org/brackenridge/parking
---
Staff parking permits at Brackenridge surgery cost £40 a year and are renewed every January.

## Allocation

The Brackenridge practice manager allocates the twelve staff parking spaces by shift pattern.
"""

PARKING_QUESTION = "How much does a staff parking permit cost at Brackenridge surgery?"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _heartbeat(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """A `chroma run` server on a free port; stopped (terminate, wait) at the end of the module."""
    assert CHROMA.exists(), f"the chroma CLI is expected at {CHROMA}"
    base = tmp_path_factory.mktemp("chroma-server")
    path = base / "db"
    port = _free_port()
    log = (base / "server.log").open("wb")
    process = subprocess.Popen(
        [str(CHROMA), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _heartbeat(port):
            if process.poll() is not None:
                pytest.fail(
                    f"chroma run exited with {process.returncode}: {(base / 'server.log').read_text()}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"no heartbeat from chroma run within {START_TIMEOUT_S} s")
            time.sleep(0.25)
        yield port, path
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
        log.close()


def _service(data_dir: Path, port: int, embedder: Embedder) -> AnswerService:
    settings = make_settings(data_dir, chroma__host="127.0.0.1", chroma__port=port)
    return AnswerService(settings, embedder=embedder)


def test_ingest_and_answer_through_a_chroma_server(
    chroma_server: tuple[int, Path], tmp_path: Path, embedder: Embedder
) -> None:
    port, server_path = chroma_server
    corpus = tmp_path / "corpus"
    (corpus / "premises").mkdir(parents=True)
    (corpus / "premises" / "brackenridge-fire.md").write_text(FIRE_DOC, encoding="utf-8")

    writer = _service(tmp_path / "worker-a", port, embedder)
    reader = _service(tmp_path / "worker-b", port, embedder)
    for service in (writer, reader):
        # An HTTP client (not the embedded Rust bindings) talking to this server.
        assert "fastapi" in service.store.client.get_settings().chroma_api_impl.lower()
        assert service.store.client.get_settings().chroma_server_http_port == port
        assert service.ready()["store"] is True

    report = Indexer(writer.settings, writer.store).run([corpus])
    assert report.failed == []
    assert (report.added, report.documents) == (1, 1)
    assert report.chunks >= 1

    # Vectors went to the server, not to an embedded store in either data dir.
    assert not (tmp_path / "worker-a" / "chroma").exists()
    assert not (tmp_path / "worker-b" / "chroma").exists()
    assert (server_path / "chroma.sqlite3").exists()
    assert writer.store.chunks.count() == reader.store.chunks.count() == report.chunks

    # The other "process" answers from what the first one ingested.
    fire = reader.answer("How often are fire drills held at Brackenridge surgery?")
    assert fire.grounded is True, fire.answer
    assert "every six months" in fire.answer
    assert [s.source for s in fire.sources] == ["premises/brackenridge-fire.md"]
    assert "[1]" in fire.answer

    before = reader.answer(PARKING_QUESTION)
    assert "£40" not in before.answer
    assert "premises/brackenridge-parking.md" not in {s.source for s in before.sources}
    generation_before = reader.cache.current().generation
    assert [d.source for d in reader.documents()] == ["premises/brackenridge-fire.md"]

    # A second ingest through the first service adds a document...
    (corpus / "premises" / "brackenridge-parking.md").write_text(PARKING_DOC, encoding="utf-8")
    second = Indexer(writer.settings, writer.store).run([corpus])
    assert (second.added, second.skipped, second.failed) == (1, 1, [])

    # ...and the second one sees a new generation, rebuilds its cache and answers from it.
    assert reader.store.generation() != generation_before
    parking = reader.answer(PARKING_QUESTION)
    assert reader.cache.current().generation != generation_before
    assert parking.grounded is True, parking.answer
    assert "£40" in parking.answer
    assert "premises/brackenridge-parking.md" in {s.source for s in parking.sources}
    assert sorted(d.source for d in reader.documents()) == [
        "premises/brackenridge-fire.md",
        "premises/brackenridge-parking.md",
    ]
    # Its on-disk cache (in its own data dir) now holds the new generation too.
    folders = list((tmp_path / "worker-b" / "index-cache").glob("g-*"))
    assert len(folders) == 1  # the old generation's folder was removed
    assert reader.store.generation() in (folders[0] / "index.json").read_text(encoding="utf-8")

    # Both services agree on every answer.
    assert writer.answer(PARKING_QUESTION).answer == parking.answer


SHREDDING_DOC = """---
title: Brackenridge surgery confidential waste
topic: premises
published: 2025-07-01
---
Confidential waste at Brackenridge surgery is collected for shredding every second Thursday by the
contracted shredding firm.
"""


def test_an_ingest_by_another_process_is_seen_within_the_check_interval_without_asking_per_question(
    chroma_server: tuple[int, Path], tmp_path: Path, embedder: Embedder
) -> None:
    """A serving process asks the store for its generation at most once per `index_check_s`, and still
    sees an ingest made by a separate `pm-ingest` process within that time."""
    port, _ = chroma_server
    corpus = tmp_path / "corpus"
    (corpus / "premises").mkdir(parents=True)
    (corpus / "premises" / "brackenridge-fire.md").write_text(FIRE_DOC, encoding="utf-8")
    reader = _service(tmp_path / "reader", port, embedder)
    reader.settings.retrieval.index_check_s = 0.5
    reader.cache.check_s = 0.5
    Indexer(reader.settings, reader.store).run([corpus])  # this process's own ingest: seen at once
    assert reader.answer("How often are fire drills held at Brackenridge surgery?").grounded

    asked: list[float] = []
    real_generation = reader.store.generation

    def counted() -> str:
        asked.append(time.monotonic())
        return real_generation()

    reader.store.generation = counted  # type: ignore[method-assign]
    started = time.monotonic()
    for _ in range(20):
        reader.cache.current()
    assert len(asked) <= 1 + int((time.monotonic() - started) / 0.5) + 1

    (corpus / "premises" / "brackenridge-shredding.md").write_text(SHREDDING_DOC, encoding="utf-8")
    env = child_env(PMA_CHROMA__HOST="127.0.0.1", PMA_CHROMA__PORT=str(port))
    ingest = subprocess.run(
        [str(Path(sys.executable).parent / "pm-ingest"), str(corpus), "--data-dir", str(tmp_path / "other")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ingest.returncode == 0, ingest.stderr
    done = time.monotonic()
    question = "How often is confidential waste collected for shredding at Brackenridge surgery?"
    while True:
        answer = reader.answer(question)
        if answer.grounded or time.monotonic() - done > 5:
            break
        time.sleep(0.05)
    assert answer.grounded, answer.answer
    assert "every second Thursday" in answer.answer
    assert time.monotonic() - done < 0.5 + 2.0  # the interval, plus a loaded machine's rebuild
