"""Quality measurement on a question set (JSONL: id, question, answer_keys, kind).

Answer accuracy: a grounded answer containing every key. Context recall@4: every key inside the top-4
retrieved passages. MRR: of the first passage holding all keys. Refusal accuracy: unanswerable questions
refused. False refusals: answerable questions refused. Every miss is listed so a regression can be read.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.service import AnswerService


@dataclass
class EvalReport:
    total: int = 0
    answerable: int = 0
    unanswerable: int = 0
    answer_accuracy: float = 0.0
    context_recall_at_4: float = 0.0
    mrr: float = 0.0
    refusal_accuracy: float = 0.0
    false_refusal_rate: float = 0.0
    latency_p50_ms: float = 0.0
    latency_p95_ms: float = 0.0
    by_kind: dict[str, float] = field(default_factory=dict)
    misses: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def text(self) -> str:
        """The figures one a line, then every miss: what `pm-assistant eval` prints and the floor tests
        show, so a regression reads the same wherever it is seen."""
        figures = self.as_dict()
        misses = figures.pop("misses")
        lines = [f"{k:22} {v:.3f}" if isinstance(v, float) else f"{k:22} {v}" for k, v in figures.items()]
        lines.append(f"\nmisses ({len(misses)}):")
        lines += ["  " + json.dumps(miss, ensure_ascii=False)[:300] for miss in misses]
        return "\n".join(lines)

    def shortfalls(self, floors: dict[str, float], max_false_refusals: float) -> list[str]:
        """Each figure under its floor, and false refusals over their ceiling; empty when all hold."""
        found = [
            f"{name} {getattr(self, name):.3f} < floor {floor}"
            for name, floor in floors.items()
            if getattr(self, name) < floor
        ]
        if self.false_refusal_rate > max_false_refusals:
            found.append(f"false_refusal_rate {self.false_refusal_rate:.3f} > {max_false_refusals}")
        return found


def load_questions(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _has_all(text: str, keys: list[str]) -> bool:
    low = text.lower()
    return all(k.lower() in low for k in keys)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def evaluate(service: AnswerService, questions: list[dict[str, Any]]) -> EvalReport:
    report = EvalReport(total=len(questions))
    latencies: list[float] = []
    correct = recall = refused_ok = false_refusals = 0
    reciprocal = 0.0
    kind_hits: dict[str, list[bool]] = {}
    for q in questions:
        keys = list(q.get("answer_keys") or [])
        kind = q.get("kind", "fact")
        started = time.perf_counter()
        answer = service.answer(q["question"], channel="eval")
        latencies.append((time.perf_counter() - started) * 1000)
        if kind == "unanswerable":
            report.unanswerable += 1
            ok = not answer.grounded
            refused_ok += ok
            kind_hits.setdefault(kind, []).append(ok)
            if not ok:
                report.misses.append(
                    {"id": q["id"], "kind": kind, "why": "answered", "answer": answer.answer}
                )
            continue
        report.answerable += 1
        passages = service.retrieve(q["question"], k=10).passages
        rank = next((i for i, p in enumerate(passages) if _has_all(p.text, keys)), None)
        # Multi-part questions may need keys from two passages: recall counts keys across the top 4.
        in_top4 = _has_all(" ".join(p.text for p in passages[:4]), keys)
        recall += in_top4
        reciprocal += 1.0 / (rank + 1) if rank is not None else 0.0
        ok = answer.grounded and _has_all(answer.answer, keys)
        correct += ok
        kind_hits.setdefault(kind, []).append(ok)
        if not answer.grounded:
            false_refusals += 1
        if not ok:
            report.misses.append(
                {
                    "id": q["id"],
                    "kind": kind,
                    "why": "refused" if not answer.grounded else "keys missing from answer",
                    "keys": keys,
                    "context_hit": in_top4,
                    "question": q["question"],
                    "answer": answer.answer,
                }
            )
    n = max(report.answerable, 1)
    report.answer_accuracy = correct / n
    report.context_recall_at_4 = recall / n
    report.mrr = reciprocal / n
    report.refusal_accuracy = refused_ok / max(report.unanswerable, 1)
    report.false_refusal_rate = false_refusals / n
    report.latency_p50_ms = statistics.median(latencies) if latencies else 0.0
    report.latency_p95_ms = percentile(latencies, 0.95)
    report.by_kind = {k: sum(v) / len(v) for k, v in kind_hits.items()}
    return report
