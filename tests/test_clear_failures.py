"""Failures that explain themselves (issue 11, row 13 and deliverable 8).

Start-up: `pm-assistant serve` and `pm-ingest` run as real subprocesses against a read-only data dir, a
closed Chroma port and a database nobody listens on; each must print one line naming what and where and
exit 2. Mid-request: a real `chroma run` server is stopped under a running API (503 JSON with a reason)
and started again on the same port and data (answers again).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import CORPUS, make_settings
from fastapi.testclient import TestClient

from assistant.embeddings import Embedder
from assistant.service import AnswerService
from bots.api import create_app
from ingest.indexer import Indexer

ROOT = Path(__file__).resolve().parents[1]
CHROMA = Path(sys.executable).parent / "chroma"
QUESTION = "When did the first planning meeting of the IGPM take place?"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run a CLI in a fresh interpreter."""
    full_env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HOME": str(tmp_path),
        **env,
    }
    return subprocess.run(
        [sys.executable, *args],
        env=full_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """A folder the child process (maybe `nobody`) can enter."""
    tmp_path.chmod(0o777)
    for parent in tmp_path.parents:
        if parent == Path("/") or parent.stat().st_mode & 0o005 == 0o005:
            break
        parent.chmod(parent.stat().st_mode | 0o005)
    return tmp_path


def _assert_one_line(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


SERVE = ["-m", "bots.cli", "serve", "--port", "1"]
INGEST = ["-m", "ingest.cli", str(CORPUS / "igpm")]


@pytest.mark.parametrize("command", [SERVE, INGEST], ids=["serve", "ingest"])
def test_read_only_data_dir_is_one_line_and_exit_2(sandbox: Path, command: list[str]) -> None:
    if os.geteuid() == 0:
        data = Path("/sys/kernel")  # root ignores chmod; sysfs refuses new files even to root
    else:
        data = sandbox / "readonly"
        data.mkdir()
        data.chmod(0o555)
    result = _run(command, {"PMA_DATA_DIR": str(data)}, sandbox)
    _assert_one_line(result, str(data), "PMA_DATA_DIR", "not writable")


def test_data_dir_that_cannot_be_created_names_it(sandbox: Path) -> None:
    parent = sandbox / "a-file"
    parent.write_text("not a folder")
    result = _run([*SERVE, "--data-dir", str(parent / "var")], {}, sandbox)
    _assert_one_line(result, str(parent / "var"), "PMA_DATA_DIR")


@pytest.mark.parametrize("command", [SERVE, INGEST], ids=["serve", "ingest"])
def test_unreachable_chroma_server_is_one_line_and_exit_2(sandbox: Path, command: list[str]) -> None:
    port = _free_port()  # nothing listens here
    env = {"PMA_DATA_DIR": str(sandbox / "d"), "PMA_CHROMA__HOST": "127.0.0.1", "PMA_CHROMA__PORT": str(port)}
    result = _run(command, env, sandbox)
    _assert_one_line(result, f"127.0.0.1:{port}", "Chroma", "PMA_CHROMA__HOST")


def test_unreachable_database_is_one_line_without_the_password(sandbox: Path) -> None:
    port = _free_port()
    url = f"postgresql+psycopg://pma:hunter2secret@127.0.0.1:{port}/pma"
    env = {"PMA_DATA_DIR": str(sandbox / "d"), "PMA_DATABASE_URL": url}
    result = _run(SERVE, env, sandbox)
    line = _assert_one_line(result, f"127.0.0.1:{port}/pma", "PMA_DATABASE_URL", "pma:***@")
    assert "hunter2secret" not in result.stderr + result.stdout
    assert "***" in line


# --- a Chroma server lost mid-request ------------------------------------------------------------------


class ChromaServer:
    """`chroma run` on a fixed port and path, so it can be stopped and started again with the same data."""

    def __init__(self, base: Path) -> None:
        self.path = base / "db"
        self.port = _free_port()
        self.log = base / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert CHROMA.exists(), f"the chroma CLI is expected at {CHROMA}"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(CHROMA),
                    "run",
                    "--path",
                    str(self.path),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 90
        while not self.alive():
            assert self.process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, "no heartbeat from chroma run"
            time.sleep(0.25)

    def alive(self) -> bool:
        try:
            url = f"http://127.0.0.1:{self.port}/api/v2/heartbeat"
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
        self.process = None


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[ChromaServer]:
    server = ChromaServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_chroma_server_lost_mid_request_is_503_then_recovers(
    chroma_server: ChromaServer, tmp_path: Path, embedder: Embedder
) -> None:
    settings = make_settings(tmp_path / "data", chroma__host="127.0.0.1", chroma__port=chroma_server.port)
    service = AnswerService(settings, embedder=embedder)
    Indexer(settings, service.store).run([CORPUS / "igpm"])
    client = TestClient(create_app(service, settings))
    before = client.post("/v1/ask", json={"question": QUESTION})
    assert before.status_code == 200, before.text
    assert before.json()["grounded"] is True

    chroma_server.stop()
    for _ in range(2):
        down = client.post("/v1/ask", json={"question": QUESTION})
        assert down.status_code == 503, down.text
        body = down.json()
        assert set(body) == {"detail", "request_id"}
        assert "Chroma" in body["detail"]
        assert "unreachable" in body["detail"]
        assert down.headers["retry-after"]
        assert QUESTION not in down.text
    assert client.get("/readyz").status_code == 503

    chroma_server.start()
    after = client.post("/v1/ask", json={"question": QUESTION})
    assert after.status_code == 200, after.text
    assert after.json()["answer"] == before.json()["answer"]
    assert client.get("/readyz").status_code == 200
