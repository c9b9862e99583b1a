"""Language model answers: time to first token, total time, sentences kept, fallbacks, and the overhead
the chain adds beyond the model's own time.

    python benchmarks/llm.py --base-url http://127.0.0.1:11434/v1 --model llama3.1:8b --data-dir var
    python benchmarks/llm.py --fake --data-dir var/eval   # the fake endpoint: measures only our overhead

Without `--base-url` or `--fake` it says so and exits 0 (nothing to measure). Questions come from
`--questions` (default tests/eval/dev.jsonl, answerable ones only; the policy refuses the rest before any
model call).

With `--fake`, the fake server of tests/fake_openai.py runs in its own process (so its work is not
charged to ours) and answers every question at once with the first sentence of each of passages 1-3,
cited. For each question three times are taken on the same machine state: the answer through the model,
the extractive answer alone, and the model's own time, which is the same request body replayed to the
fake by a bare HTTP client. What the chain adds (prompt building, the OpenAI client, LangChain's
streaming, the citation check) is the first minus the other two; target <= 30 ms per answer.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import re
import statistics
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from assistant.config import Settings  # noqa: E402
from assistant.service import AnswerService  # noqa: E402
from benchmarks.report import emit  # noqa: E402


def _quote_passages(request):  # type: ignore[no-untyped-def]
    """A three-sentence answer, like a model's: the first sentence of each of passages 1-3, cited."""
    from fake_openai import Reply

    user = request.messages[-1]["content"]
    claims = []
    for n, text in re.findall(r'<passage n="(\d+)"[^>]*>\n(.*?)\n</passage>', user, re.S)[:3]:
        first = re.split(r"(?<=[.!?])\s", text.strip())[0]
        claims.append(f"{first.rstrip('.')} [{n}].")
    return Reply(" ".join(claims) or "NOT_IN_PASSAGES")


def _serve_fake(conn: Connection) -> None:
    """The fake endpoint's process: sends its base URL, then the last request body on each "last"."""
    sys.path.insert(0, str(ROOT / "tests"))
    from fake_openai import FakeOpenAI

    with FakeOpenAI() as fake:
        fake.default = _quote_passages
        conn.send(fake.base_url)
        while (message := conn.recv()) != "stop":
            chat = fake.chat_requests
            conn.send(chat[-1].body if chat and message == "last" else None)


def _bare_stream_ms(client: Any, base_url: str, body: dict[str, Any]) -> float:
    """One streamed completion read to its end by plain httpx: the model's own time, as a client sees it."""
    started = time.perf_counter()
    with client.stream("POST", f"{base_url}/chat/completions", json=body) as response:
        for _ in response.iter_lines():
            pass
    return (time.perf_counter() - started) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base-url")
    parser.add_argument("--model", default="gpt-4o-mini")
    parser.add_argument("--api-key")
    parser.add_argument("--fake", action="store_true", help="use the fake endpoint (overhead only)")
    parser.add_argument("--data-dir", type=Path, default=Path("var"))
    parser.add_argument("--questions", type=Path, default=ROOT / "tests/eval/dev.jsonl")
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--warm-up", type=int, default=3, help="questions asked first and not counted")
    args = parser.parse_args(argv)
    if not args.base_url and not args.fake:
        print("no endpoint given (--base-url URL --model M, or --fake): skipped")
        return 0

    conn: Connection | None = None
    child = None
    if args.fake:
        conn, child_end = mp.Pipe()
        child = mp.get_context("spawn").Process(target=_serve_fake, args=(child_end,), daemon=True)
        child.start()
        args.base_url = conn.recv()
    settings = Settings(data_dir=args.data_dir)
    settings.llm.base_url = args.base_url
    settings.llm.model = args.model
    if args.api_key:
        from pydantic import SecretStr

        settings.llm.api_key = SecretStr(args.api_key)
    service = AnswerService(settings)
    service.warm_up()
    # The same store and encoder with no model: the extractive answer every model answer starts from.
    plain = AnswerService(Settings(data_dir=args.data_dir), embedder=service.embedder, store=service.store)
    items = [
        json.loads(line) for line in args.questions.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    items = [i for i in items if not i.get("trap")][: args.limit + args.warm_up]

    import httpx

    rows = []
    try:
        with httpx.Client(timeout=30) as bare:
            for n, item in enumerate(items):
                started = time.perf_counter()
                first: float | None = None
                final = None
                for event in service.stream(item["question"]):
                    if event.type == "delta" and first is None:
                        first = time.perf_counter()
                    if event.type == "final":
                        final = event.answer
                total = (time.perf_counter() - started) * 1000
                if final is None:
                    raise RuntimeError("the stream ended without a final answer")
                ttft = ((first or started) - started) * 1000
                extractive = model_ms = None
                if conn is not None:
                    t0 = time.perf_counter()
                    plain.answer(item["question"])
                    extractive = (time.perf_counter() - t0) * 1000
                    conn.send("last")
                    body = conn.recv()
                    model_ms = _bare_stream_ms(bare, args.base_url, body) if body else 0.0
                if n < args.warm_up:
                    continue
                rows.append((item["id"], ttft, total, final, extractive, model_ms))
                line = f"{item['id']:10s} ttft {ttft:7.1f} ms  total {total:7.1f} ms"
                if extractive is not None and model_ms is not None:
                    line += f"  extractive {extractive:6.1f}  model {model_ms:5.1f}"
                print(f"{line}  composer {final.composer:10s} {final.answer[:50]!r}")
    finally:
        if conn is not None and child is not None:
            conn.send("stop")
            child.join(timeout=10)
    stats = service.writer.stats if service.writer else None
    share = 0.0
    if stats:
        kept, dropped = stats.sentences["kept"], stats.sentences["dropped"]
        share = kept / (kept + dropped) if kept + dropped else 0.0
        print(f"\nmodel calls {sum(stats.calls.values())}: {stats.calls}; fallbacks {stats.fallbacks}")
        print(f"sentences kept by the citation check: {share:.2f} ({kept} of {kept + dropped})")
    totals = [r[2] for r in rows]
    if totals:
        ttfts = [r[1] for r in rows]
        print(
            f"per answer: total median {statistics.median(totals):.1f} ms, max {max(totals):.1f} ms; "
            f"first token median {statistics.median(ttfts):.1f} ms"
        )
    measured = [(r[2], r[4], r[5]) for r in rows if r[4] is not None and r[5] is not None]
    if measured:
        added = [total - extractive - model for total, extractive, model in measured]
        print(
            f"extractive alone median {statistics.median(m[1] for m in measured):.1f} ms; "
            f"model's own time median {statistics.median(m[2] for m in measured):.1f} ms\n"
            f"chain overhead per answer: median {statistics.median(added):.1f} ms, "
            f"p90 {sorted(added)[int(0.9 * (len(added) - 1))]:.1f} ms (target <= 30)"
        )
        emit(
            "llm",
            {
                "chain overhead per answer (fake endpoint)": (
                    f"median {statistics.median(added):.1f} ms, "
                    f"p90 {sorted(added)[int(0.9 * (len(added) - 1))]:.1f} ms (target <= 30 ms)"
                ),
                "sentences kept by the citation check": f"{share:.2f}" if stats else "—",
            },
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
