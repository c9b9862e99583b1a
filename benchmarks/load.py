"""Load benchmark: `POST /v1/ask` throughput and latency under concurrent clients, with and without an
upload job indexing a large document at the same time.

Prints figures; it is not a test. Run from the repository root:

    .venv/bin/python -m benchmarks.load                      # 1, 20, 50 clients; 10 s a phase
    .venv/bin/python -m benchmarks.load --seconds 20 --clients 1,20 --isolation thread

What it does, on loopback only, and it stops by itself:
1. Ingests corpus/ into a temporary data dir with `pm-ingest`, then starts `pm-assistant serve` on a
   free 127.0.0.1 port over it (admin token set, rate limit off, `PMA_INGEST__ISOLATION` as asked).
2. Idle phase: for each client count, that many asyncio clients ask the evaluation questions in turn
   for `--seconds` (at most 20) or `--max-requests`, whichever ends first.
3. Ingest phase: uploads one generated document of `--chunks` chunks (benchmarks/filler.py's
   `long_document`), waits until its job is embedding, and measures again. If the job finishes before
   the phase does, another document is uploaded, so an ingest is running throughout; the table says
   how many chunks were indexed during the phase.
4. Prints req/s and p50/p95/p99 per client count and phase, and the p95 ratio ingest/idle; then waits
   (at most 3 minutes, no load) for the last upload and says how long it took. "chunks embedded" counts
   chunks of files already written, so a single document still being embedded shows 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path[:1]:
    # pysbd installs a top-level `benchmarks` package into site-packages; ours must win.
    sys.path.insert(0, str(ROOT))
    sys.modules.pop("benchmarks", None)

from benchmarks.filler import long_document  # noqa: E402
from benchmarks.report import emit  # noqa: E402

TOKEN = "load-benchmark-admin"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
MAX_PHASE_S = 20.0
READY_TIMEOUT_S = 600.0
FINISH_TIMEOUT_S = 180.0


@dataclass
class Phase:
    clients: int
    ingest: bool
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    chunks_indexed: int = 0

    def pct(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]

    @property
    def rps(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def questions() -> list[str]:
    lines = (ROOT / "tests" / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def child_env(isolation: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMA_")}
    env.update(
        PMA_API__ADMIN_TOKEN=TOKEN,
        PMA_API__RATE_LIMIT_PER_MINUTE="0",
        PMA_INGEST__ISOLATION=isolation,
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )
    return env


async def run_clients(
    http: httpx.AsyncClient, phase: Phase, asks: list[str], seconds: float, limit: int
) -> None:
    deadline = time.perf_counter() + seconds
    counter = iter(range(limit))

    async def client(n: int) -> None:
        for i in counter:
            if time.perf_counter() >= deadline:
                return
            question = asks[(i * 7 + n) % len(asks)]
            started = time.perf_counter()
            try:
                response = await http.post("/v1/ask", json={"question": question})
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                phase.latencies_ms.append((time.perf_counter() - started) * 1000)
            else:
                phase.errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(phase.clients)))
    phase.seconds = time.perf_counter() - started


class Uploads:
    """Keeps one upload job of a large document running while the ingest phases measure."""

    def __init__(self, http: httpx.AsyncClient, chunks: int) -> None:
        self.http, self.chunks, self.number, self.job_id = http, chunks, 0, ""
        self.indexed_before = 0
        self.started = 0.0

    async def job(self) -> dict[str, Any]:
        response = await self.http.get(f"/v1/admin/jobs/{self.job_id}", headers=ADMIN)
        job: dict[str, Any] = response.json()
        return job

    async def ensure_running(self) -> None:
        """Upload a new document unless the current job is still embedding; wait until it embeds."""
        if self.job_id and (await self.job())["status"] in {"queued", "running"}:
            return
        self.number += 1
        doc = long_document(self.chunks, self.number)
        name = doc.relpath
        response = await self.http.post(
            "/v1/admin/documents", headers=ADMIN, files={"file": (name, doc.text.encode(), "text/markdown")}
        )
        response.raise_for_status()
        self.job_id = response.json()["job_id"]
        self.started = time.perf_counter()
        while True:
            job = await self.job()
            if job["status"] in {"done", "failed"} or job["progress"]["chunks_total"]:
                break
            await asyncio.sleep(0.1)
        self.indexed_before = 0

    async def chunks_done(self) -> int:
        return int((await self.job())["progress"]["chunks_done"])

    async def finish(self, timeout_s: float) -> str:
        """Wait (bounded) for the last upload, with no client load, and say how long it took in all: the
        job's progress counts a file's chunks once the file is written, so a single large document shows
        0 chunks done until it is finished, and only its end shows that it ran at all."""
        deadline = time.perf_counter() + timeout_s
        while (job := await self.job())["status"] in {"queued", "running"}:
            if time.perf_counter() > deadline:
                return (
                    f"upload job still {job['status']} {time.perf_counter() - self.started:.0f} s after it "
                    f"started (stopped waiting after {timeout_s:.0f} s without load)"
                )
            await asyncio.sleep(0.5)
        return (
            f"upload job {job['status']}: {job['progress']['chunks_done']}/{job['progress']['chunks_total']} "
            f"chunks, {time.perf_counter() - self.started:.0f} s after it started "
            f"(documents uploaded: {self.number})"
        )


async def measure(
    base_url: str, clients: list[int], seconds: float, limit: int, chunks: int
) -> tuple[list[Phase], str]:
    asks = questions()
    phases: list[Phase] = []
    limits = httpx.Limits(max_connections=max(clients) + 5, max_keepalive_connections=max(clients) + 5)
    async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as http:
        for question in asks[:5]:  # warm: the first answers build caches
            (await http.post("/v1/ask", json={"question": question})).raise_for_status()
        for n in clients:
            phase = Phase(n, ingest=False)
            await run_clients(http, phase, asks, seconds, limit)
            phases.append(phase)
            print(f"  idle,   {n:2d} clients: {len(phase.latencies_ms)} answers", flush=True)
        uploads = Uploads(http, chunks)
        for n in clients:
            await uploads.ensure_running()
            before = await uploads.chunks_done()
            job_before = uploads.job_id
            phase = Phase(n, ingest=True)
            await run_clients(http, phase, asks, seconds, limit)
            after = await uploads.chunks_done() if uploads.job_id == job_before else before
            phase.chunks_indexed = after - before
            phases.append(phase)
            job = await uploads.job()
            print(
                f"  ingest, {n:2d} clients: {len(phase.latencies_ms)} answers; job {job['status']}, "
                f"{job['progress']['chunks_done']}/{job['progress']['chunks_total']} chunks",
                flush=True,
            )
        finished = await uploads.finish(FINISH_TIMEOUT_S)
    return phases, finished


def report(phases: list[Phase], isolation: str, chunks: int) -> str:
    lines = [
        f"POST /v1/ask, one `pm-assistant serve` process, isolation={isolation}, "
        f"upload of a {chunks}-chunk document during the 'ingest' rows",
        f"{'clients':>7} {'ingest':>6} {'answers':>7} {'errors':>6} {'req/s':>6} "
        f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'chunks embedded':>15}",
    ]
    for p in phases:
        lines.append(
            f"{p.clients:>7} {'yes' if p.ingest else 'no':>6} {len(p.latencies_ms):>7} {p.errors:>6} "
            f"{p.rps:>6.1f} {p.pct(50):>7.0f} {p.pct(95):>7.0f} {p.pct(99):>7.0f} "
            f"{p.chunks_indexed if p.ingest else '':>15}"
        )
    idle = {p.clients: p for p in phases if not p.ingest}
    for p in phases:
        if p.ingest and p.clients in idle:
            ratio = p.pct(95) / idle[p.clients].pct(95)
            lines.append(f"p95 with ingest / without, {p.clients} clients: {ratio:.2f}x")
    return "\n".join(lines)


def wait_ready(base_url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}")
        try:
            if httpx.get(base_url + "/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("the server was not ready in time")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", default="1,20,50", help="comma-separated client counts")
    parser.add_argument("--seconds", type=float, default=10.0, help=f"per phase (at most {MAX_PHASE_S:.0f})")
    parser.add_argument("--max-requests", type=int, default=3000, help="per phase")
    parser.add_argument("--chunks", type=int, default=500, help="size of the uploaded document")
    parser.add_argument("--isolation", choices=["process", "thread"], default="process")
    args = parser.parse_args(argv)
    clients = [int(c) for c in args.clients.split(",") if c.strip()]
    seconds = min(args.seconds, MAX_PHASE_S)

    work = Path(tempfile.mkdtemp(prefix="pma-load-"))
    env = child_env(args.isolation)
    server: subprocess.Popen[bytes] | None = None
    try:
        data = work / "data"
        print(f"ingesting corpus/ into {data} ...", flush=True)
        subprocess.run(
            [sys.executable, "-m", "ingest.cli", "corpus", "--data-dir", str(data), "--json"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        log = (work / "server.log").open("wb")
        server = subprocess.Popen(
            [sys.executable, "-m", "bots.cli", "serve", "--port", str(port), "--data-dir", str(data)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_ready(base_url, server)
        time.sleep(5)  # let the low-priority embedder finish starting
        print(f"serving on {base_url}; {seconds:.0f} s a phase", flush=True)
        phases, finished = asyncio.run(measure(base_url, clients, seconds, args.max_requests, args.chunks))
        print()
        print(report(phases, args.isolation, args.chunks))
        print(finished)
        p95_idle = statistics.fmean(p.pct(95) for p in phases if not p.ingest)
        print(f"mean idle p95 {p95_idle:.0f} ms")
        emit(
            "load",
            {
                f"{p.clients} clients, {'during ingest' if p.ingest else 'idle'}": (
                    f"{p.rps:.1f} req/s; p50 / p95 / p99 {p.pct(50):.0f} / {p.pct(95):.0f} / "
                    f"{p.pct(99):.0f} ms; {p.errors} errors"
                )
                for p in phases
            },
        )
    finally:
        if server is not None and server.poll() is None:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
