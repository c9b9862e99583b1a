"""Real servers for tests that need separate processes: `chroma run`, and `pm-assistant serve` workers.

Each runs as a subprocess on a free 127.0.0.1 port with its output in a log file, and is stopped
(terminate, then kill) when its context exits.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
from conftest import child_env

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def running(
    argv: list[str],
    log_path: Path,
    ready: Callable[[], bool],
    timeout_s: float,
    env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start `argv`, wait until `ready()`, yield the process, stop it afterwards."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        try:
            deadline = time.monotonic() + timeout_s
            while not ready():
                if process.poll() is not None:
                    raise RuntimeError(f"{argv[0]} exited with {process.returncode}:\n{log_path.read_text()}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{argv[0]} not ready within {timeout_s} s:\n{log_path.read_text()}")
                time.sleep(0.25)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)


@contextlib.contextmanager
def chroma_server(base: Path, timeout_s: float = 90) -> Iterator[int]:
    """A `chroma run` server storing under `base`; yields its port."""
    port = free_port()
    argv = [
        str(BIN / "chroma"),
        "run",
        "--path",
        str(base / "db"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with running(
        argv, base / "chroma.log", lambda: _ok(f"http://127.0.0.1:{port}/api/v2/heartbeat"), timeout_s
    ):
        yield port


@contextlib.contextmanager
def serve_worker(data_dir: Path, env: dict[str, str], timeout_s: float = 240) -> Iterator[str]:
    """One `pm-assistant serve` process with its own data dir and `env` (PMA_* settings) on top of ours;
    yields its base URL once /readyz says the model and store are ready."""
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    full_env = child_env()
    full_env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **env})
    argv = [
        str(BIN / "pm-assistant"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
    ]
    base_url = f"http://127.0.0.1:{port}"
    with running(argv, data_dir / "serve.log", lambda: _ok(f"{base_url}/readyz"), timeout_s, full_env):
        yield base_url
