"""Uploads and re-indexes are background jobs (ingest/jobs.py), followed through `/v1/admin/jobs`.

Through FastAPI's TestClient: 202 + job id, polling to done, the document then answerable; a corrupt
file's job fails with the reason; a file saved in uploads/ but never indexed is found by re-index.
Through a real `pm-assistant serve` process: SIGKILL during an upload job and during a re-index, then a
restart: the job is reported interrupted and run again, and the index equals a clean ingest of the same
files (issue 11, rows 7 and 12).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import CORPUS, ROOT, child_env, make_settings
from fastapi.testclient import TestClient
from fixtures_docs import VOCAB

from assistant.embeddings import Embedder
from assistant.service import AnswerService
from assistant.store import open_store
from bots.api import create_app
from ingest.indexer import Indexer

ADMIN_TOKEN = "jobs-admin-token"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
POLL_TIMEOUT_S = 420  # model loads (server and low-priority child) on a busy 2-core machine

DRILLS = b"""---
title: Lindenbrook fire drill procedure
topic: premises
published: 2025-01-10
---
Fire drills at Lindenbrook Health Centre take place every six months, on the first Tuesday of March
and of September. The Lindenbrook fire marshal records each drill in the premises log.
"""

ROTA = """---
title: Quillfield surgery rota policy
topic: workforce
---
Under the Quillfield rota policy, reception staff rotate between the front desk and the telephone
queue every two hours. The practice manager reviews the Quillfield rota policy each April.
"""


def long_markdown(sections: int, seed: int) -> str:
    """One document of `sections` ~180-word sections: one chunk each, so the job takes a while."""
    rng = random.Random(seed)
    parts = [f"---\ntitle: Long handbook {seed}\ntopic: premises\n---\n"]
    for n in range(sections):
        sentences = [
            f"Handbook {seed} part {n} rule {i} says the "
            + " ".join(rng.choice(VOCAB) for _ in range(13))
            + "."
            for i in range(12)
        ]
        parts.append(f"## Part {n}\n\n" + " ".join(sentences) + "\n")
    return "\n".join(parts)


# --- through the app ----------------------------------------------------------------------------------


@pytest.fixture
def service(service_factory: Any) -> AnswerService:
    # Nice 0: the low-priority child competes here with every other process on a shared test machine;
    # what these tests check is the job path, not the scheduling (benchmarks/load.py measures that).
    svc: AnswerService = service_factory([("handbook/quillfield-rota.md", ROTA)], ingest__nice=0)
    return svc


@pytest.fixture
def client(service: AnswerService) -> TestClient:
    settings = service.settings.model_copy(
        update={"api": service.settings.api.model_copy(update={"admin_token": ADMIN_TOKEN})}
    )
    return TestClient(create_app(service, settings))


def poll(get: Any, job_id: str, until: set[str], timeout_s: float = POLL_TIMEOUT_S) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        response = get(f"/v1/admin/jobs/{job_id}", headers=ADMIN)
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        if job["status"] in until:
            return job
        time.sleep(0.1)
    pytest.fail(f"job {job_id} never reached {until}: {job}")


def test_upload_is_a_job_that_reaches_done_and_is_then_answerable(client: TestClient) -> None:
    response = client.post(
        "/v1/admin/documents", headers=ADMIN, files={"file": ("drills.md", DRILLS, "text/markdown")}
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] in {"queued", "running", "done"}
    assert body["source"] == "uploads/drills.md"
    assert body["report"] is None

    job = poll(client.get, body["job_id"], {"done", "failed"})
    assert job["status"] == "done", job
    assert (job["id"], job["kind"], job["source"], job["attempts"]) == (
        body["job_id"],
        "upload",
        "uploads/drills.md",
        1,
    )
    assert job["error"] is None
    assert job["report"]["added"] == 1
    assert job["report"]["failed"] == []
    assert job["progress"]["files_total"] == job["progress"]["files_done"] == 1
    assert job["progress"]["chunks_done"] == job["progress"]["chunks_total"] >= 1
    assert job["created_at"] <= job["updated_at"]

    answer = client.post("/v1/ask", json={"question": "How often are Lindenbrook fire drills held?"}).json()
    assert answer["grounded"] is True
    assert any(s["source"] == "uploads/drills.md" for s in answer["sources"])
    listed = client.get("/v1/admin/jobs", headers=ADMIN).json()
    assert [j["id"] for j in listed][:1] == [body["job_id"]]


def test_uploads_still_index_after_a_server_stops_and_after_the_embedding_child_dies(
    client: TestClient, service: AnswerService
) -> None:
    """The low-priority child outlives the job runner (and server) that started it, and a child that
    died is replaced: a server stopped in one place, or a child killed by the OOM killer, must not break
    uploads for good."""
    with client:  # the app's lifespan starts a job runner, and stops it on leaving
        first = client.post("/v1/admin/documents", headers=ADMIN, files={"file": ("drills.md", DRILLS)})
        assert poll(client.get, first.json()["job_id"], {"done", "failed"})["status"] == "done"

    child_embedder = service.jobs()._job_indexer().store.embedder
    (child,) = child_embedder._pool._processes.values()
    assert child.is_alive()  # the runner stopped; the child is still there for the next one
    os.kill(child.pid, signal.SIGKILL)
    child.join(timeout=30)

    with client:
        again = client.post("/v1/admin/documents", headers=ADMIN, files={"file": ("rota-2.md", ROTA)})
        job = poll(client.get, again.json()["job_id"], {"done", "failed"})
    assert job["status"] == "done", job
    assert job["report"]["added"] == 1
    (replacement,) = child_embedder._pool._processes.values()
    assert replacement.pid != child.pid


def test_a_corrupt_upload_job_fails_with_the_reason_and_changes_nothing(
    client: TestClient, service: AnswerService
) -> None:
    before = client.get("/v1/documents").json()
    corrupt = b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\nthis is not really a pdf\n%%EOF"
    response = client.post("/v1/admin/documents", headers=ADMIN, files={"file": ("broken.pdf", corrupt)})
    assert response.status_code == 202
    job = poll(client.get, response.json()["job_id"], {"done", "failed"})
    assert job["status"] == "failed"
    assert "broken.pdf" in job["error"]
    assert "not a valid PDF" in job["error"]
    assert job["report"]["failed"][0]["source"] == "uploads/broken.pdf"
    assert client.get("/v1/documents").json() == before
    assert not (service.uploads_dir / "broken.pdf").exists()
    assert not any((service.settings.data_dir / "tmp").iterdir())


def test_reindex_is_a_job_and_finds_an_upload_that_was_never_indexed(
    client: TestClient, service: AnswerService
) -> None:
    # Row 12: a file saved in uploads/ whose first indexing never happened (the server was killed
    # before any upload had been recorded, so uploads/ is not yet a known root).
    service.uploads_dir.mkdir(parents=True)
    (service.uploads_dir / "drills.md").write_bytes(DRILLS)
    response = client.post("/v1/admin/reindex", headers=ADMIN)
    assert response.status_code == 202
    assert set(response.json()) == {"job_id", "status"}
    job = poll(client.get, response.json()["job_id"], {"done", "failed"})
    assert job["status"] == "done", job
    assert (job["kind"], job["report"]["added"], job["report"]["skipped"]) == ("reindex", 1, 1)
    sources = {d["source"] for d in client.get("/v1/documents").json()}
    assert "uploads/drills.md" in sources


def test_unknown_job_is_404_and_jobs_need_the_admin_token(client: TestClient) -> None:
    assert client.get("/v1/admin/jobs/nope", headers=ADMIN).status_code == 404
    assert client.get("/v1/admin/jobs").status_code == 401
    assert client.get("/v1/admin/jobs/nope").status_code == 401


# --- a real server, killed mid-job ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`pm-assistant serve` in its own process over one data dir."""

    def __init__(self, data_dir: Path, log: Path) -> None:
        self.port = free_port()
        env = child_env()
        env.update(
            PMA_API__ADMIN_TOKEN=ADMIN_TOKEN,
            PMA_API__RATE_LIMIT_PER_MINUTE="0",
            PMA_RETRIEVAL__GLOSSARY_PATH=str(CORPUS / "glossary.yml"),
        )
        self.log = log.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bots.cli",
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(data_dir),
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=60)
        deadline = time.monotonic() + POLL_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, log.read_text()[-3000:]
            try:
                if self.http.get("/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        pytest.fail("the server did not become ready")

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait(30) == -signal.SIGKILL

    def stop(self) -> None:
        self.http.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def wait_until_embedding(server: Server, job_id: str) -> dict[str, Any]:
    """Poll until the job has chunked its files and is embedding them (the moment to kill it)."""
    deadline = time.monotonic() + POLL_TIMEOUT_S
    while time.monotonic() < deadline:
        job: dict[str, Any] = server.get(f"/v1/admin/jobs/{job_id}", headers=ADMIN).json()
        assert job["status"] in {"queued", "running"}, f"finished before it could be killed: {job}"
        if job["status"] == "running" and job["progress"]["chunks_total"] > 0:
            return job
        time.sleep(0.05)
    pytest.fail(f"job {job_id} never started embedding")


def index_state(data_dir: Path, embedder: Embedder) -> dict[str, Any]:
    settings = make_settings(data_dir)
    store = open_store(settings, embedder)
    indexer = Indexer(settings, store)
    chunk_ids = store.chunk_ids()
    return {
        "ids": chunk_ids,
        "records": sorted(indexer.records.list_keys()),
        "sentence_owners": set(store.sentence_owner_ids().values()),
        "sentences": set(store.sentence_owner_ids()),
        "files": {(s, d) for s, (_root, d) in indexer._known_files().items()},
    }


@pytest.mark.slow
@pytest.mark.timeout(1800)  # three server starts and ~4 embedding runs; minutes on a busy 2-core box
def test_sigkill_during_an_upload_and_a_reindex_then_restart(tmp_path: Path, embedder: Embedder) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "handbook").mkdir(parents=True)
    (corpus / "handbook" / "quillfield-rota.md").write_text(ROTA, encoding="utf-8")
    data = tmp_path / "data"
    settings = make_settings(data)
    Indexer(settings, open_store(settings, embedder)).run([corpus])
    log = tmp_path / "server.log"

    # 1. An upload job killed while it embeds.
    server = Server(data, log)
    try:
        upload = server.http.post(
            "/v1/admin/documents",
            headers=ADMIN,
            files={"file": ("long-a.md", long_markdown(60, 1).encode(), "text/markdown")},
        )
        assert upload.status_code == 202, upload.text
        upload_id = upload.json()["job_id"]
        wait_until_embedding(server, upload_id)
        server.kill()
    finally:
        server.stop()
    assert (data / "uploads" / "long-a.md").is_file(), "the saved upload was lost"

    # 2. Restart: the job is reported interrupted and run again; then a re-index, killed too. It has a
    # file to embed: one saved in uploads/ that no job has indexed yet.
    server = Server(data, log)
    try:
        job = poll(server.get, upload_id, {"done", "failed"})
        assert job["status"] == "done", job
        assert job["attempts"] == 2, "the interrupted job was not run again"
        assert job["report"]["added"] == 1
        assert "repaired" in job["report"]
        (data / "uploads" / "long-b.md").write_text(long_markdown(60, 2), encoding="utf-8")
        reindex = server.http.post("/v1/admin/reindex", headers=ADMIN)
        assert reindex.status_code == 202
        reindex_id = reindex.json()["job_id"]
        wait_until_embedding(server, reindex_id)
        server.kill()
    finally:
        server.stop()

    server = Server(data, log)
    try:
        job = poll(server.get, reindex_id, {"done", "failed"})
        assert job["status"] == "done", job
        assert job["attempts"] == 2
        assert job["report"]["failed"] == []
        assert job["report"]["documents"] == 3
        assert isinstance(job["report"]["repaired"], int)
        listed = {j["id"]: j for j in server.get("/v1/admin/jobs", headers=ADMIN).json()}
        assert {upload_id, reindex_id} <= set(listed)
        sources = {d["source"] for d in server.get("/v1/documents").json()}
        assert sources == {"handbook/quillfield-rota.md", "uploads/long-a.md", "uploads/long-b.md"}
    finally:
        server.stop()

    # The index equals a clean ingest of the same files: same chunk ids, records, sentences, digests.
    clean = tmp_path / "clean"
    shutil.copytree(data / "uploads", clean / "uploads")
    clean_settings = make_settings(clean)
    report = Indexer(clean_settings, open_store(clean_settings, embedder)).run_targets(
        [(corpus, corpus), (clean / "uploads", clean)]
    )
    assert (report.documents, report.failed) == (3, [])
    got, want = index_state(data, embedder), index_state(clean, embedder)
    assert got["ids"] == want["ids"]
    assert got["records"] == sorted(got["ids"])
    assert got["sentences"] == want["sentences"]
    assert got["sentence_owners"] == got["ids"]
    assert got["files"] == want["files"]
    assert not list((data / "tmp").iterdir()), "staging or backup files left behind"


def test_an_embedding_child_whose_server_is_already_gone_exits_at_once() -> None:
    """The child watches the pid its server handed it, not `os.getppid()` read at start-up: a child
    that starts after its server died has already been adopted, and would watch its adopter forever."""
    code = (
        "import os, subprocess, sys\n"
        "gone = subprocess.Popen([sys.executable, '-c', 'pass']); gone.wait()\n"
        "import time\n"
        "from assistant.config import Settings\n"
        "from assistant.embeddings import embedder_for\n"
        "from ingest.low_priority import _init_child\n"
        "_init_child(embedder_for(Settings()).options(), 0, gone.pid)  # a server that is gone\n"
        "time.sleep(60)\n"
        "sys.exit(3)  # not reached: the parent watcher exits with 0\n"
    )
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", code], env=child_env(), timeout=60)
    assert result.returncode == 0
    assert time.monotonic() - started < 30
