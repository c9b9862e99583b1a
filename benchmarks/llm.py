"""Language model answers: time to first token, total time, sentences kept, fallbacks, and the overhead
the chain adds beyond the model's own time.

    python benchmarks/llm.py --base-url http://127.0.0.1:11434/v1 --model llama3.1:8b --data-dir var
    python benchmarks/llm.py --fake --data-dir var     # the fake endpoint: measures only our overhead

Without `--base-url` or `--fake` it says so and exits 0 (nothing to measure). Questions come from
`--questions` (default tests/eval/dev.jsonl, answerable ones only; the policy refuses the rest before any
model call). With `--fake`, the fake server of tests/fake_openai.py answers every question at once by
quoting the first sentence of passage 1, so the measured time is the chain's own: prompt building, HTTP,
streaming, the citation check (target <= 30 ms per answer).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from assistant.config import Settings  # noqa: E402
from assistant.service import AnswerService  # noqa: E402


def _quote_first_passage(request):  # type: ignore[no-untyped-def]
    from fake_openai import Reply

    user = request.messages[-1]["content"]
    match = re.search(r'<passage n="1"[^>]*>\n(.*?)\n</passage>', user, re.S)
    first = re.split(r"(?<=[.!?])\s", match.group(1).strip())[0] if match else "NOT_IN_PASSAGES"
    return Reply(f"{first.rstrip('.')} [1].")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base-url")
    parser.add_argument("--model", default="gpt-4o-mini")
    parser.add_argument("--api-key")
    parser.add_argument("--fake", action="store_true", help="use the fake endpoint (overhead only)")
    parser.add_argument("--data-dir", type=Path, default=Path("var"))
    parser.add_argument("--questions", type=Path, default=ROOT / "tests/eval/dev.jsonl")
    parser.add_argument("--limit", type=int, default=20)
    args = parser.parse_args(argv)
    if not args.base_url and not args.fake:
        print("no endpoint given (--base-url URL --model M, or --fake): skipped")
        return 0

    fake = None
    if args.fake:
        from fake_openai import FakeOpenAI

        fake = FakeOpenAI().__enter__()
        fake.default = _quote_first_passage
        args.base_url = fake.base_url
    settings = Settings(data_dir=args.data_dir)
    settings.llm.base_url = args.base_url
    settings.llm.model = args.model
    if args.api_key:
        from pydantic import SecretStr

        settings.llm.api_key = SecretStr(args.api_key)
    service = AnswerService(settings)
    service.warm_up()
    items = [
        json.loads(line) for line in args.questions.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    items = [i for i in items if not i.get("trap")][: args.limit]

    rows = []
    try:
        for item in items:
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
            rows.append((item["id"], ttft, total, final))
            print(
                f"{item['id']:10s} ttft {ttft:7.1f} ms  total {total:7.1f} ms  "
                f"composer {final.composer:10s} {final.answer[:60]!r}"
            )
    finally:
        if fake is not None:
            fake.__exit__(None, None, None)
    stats = service.writer.stats if service.writer else None
    if stats:
        kept, dropped = stats.sentences["kept"], stats.sentences["dropped"]
        share = kept / (kept + dropped) if kept + dropped else 0.0
        print(f"\nmodel calls {sum(stats.calls.values())}: {stats.calls}; fallbacks {stats.fallbacks}")
        print(f"sentences kept by the citation check: {share:.2f} ({kept} of {kept + dropped})")
    totals = [r[2] for r in rows]
    if totals:
        print(f"total per answer: median {statistics.median(totals):.1f} ms, max {max(totals):.1f} ms")
    if fake is not None and totals:
        # The same questions with no model at all: the difference is what the chain adds.
        plain = AnswerService(
            Settings(data_dir=args.data_dir), embedder=service.embedder, store=service.store
        )
        base = []
        for item in items:
            t0 = time.perf_counter()
            plain.answer(item["question"])
            base.append((time.perf_counter() - t0) * 1000)
        overhead = statistics.median(totals) - statistics.median(base)
        print(
            f"extractive alone: median {statistics.median(base):.1f} ms; "
            f"chain overhead {overhead:.1f} ms (target <= 30)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
