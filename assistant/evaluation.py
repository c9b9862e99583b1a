"""Quality measurement on a question set (JSONL: id, question, answer_keys, kind, style, doc).

Answer accuracy: a grounded answer containing every key. Context recall@4: every key inside the top-4
retrieved passages. MRR: of the first passage holding all keys. Refusal accuracy: unanswerable questions
not answered (refused, or answered in part, `grounded: false`). False refusals: answerable questions not
answered. Beside each figure, the naive composer on the same retrieval: the three sentences of the top
passages most similar to the question, never refusing (design.md: print the baseline in the same run).
Figures are broken down by kind (fact, paraphrase, multi, unanswerable) and by style (plain, context,
terse, typo, slack). Every miss is listed so a regression can be read.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.retrieval import RetrievalResult
from assistant.service import AnswerService

NAIVE_SENTENCES = 3


@dataclass
class Tally:
    """Counts for one group of questions."""

    answerable: int = 0
    unanswerable: int = 0
    correct: int = 0
    naive_correct: int = 0
    recall: int = 0
    refused_ok: int = 0
    false_refusals: int = 0

    def figures(self) -> dict[str, float]:
        n, u = max(self.answerable, 1), max(self.unanswerable, 1)
        return {
            "questions": self.answerable + self.unanswerable,
            "accuracy": round(self.correct / n, 3),
            "naive_accuracy": round(self.naive_correct / n, 3),
            "recall_at_4": round(self.recall / n, 3),
            "refusal": round(self.refused_ok / u, 3) if self.unanswerable else None,  # type: ignore[dict-item]
            "false_refusals": round(self.false_refusals / n, 3),
        }


@dataclass
class EvalReport:
    total: int = 0
    answerable: int = 0
    unanswerable: int = 0
    answer_accuracy: float = 0.0
    naive_accuracy: float = 0.0
    context_recall_at_4: float = 0.0
    mrr: float = 0.0
    refusal_accuracy: float = 0.0
    false_refusal_rate: float = 0.0
    latency_p50_ms: float = 0.0
    latency_p95_ms: float = 0.0
    by_kind: dict[str, dict[str, float]] = field(default_factory=dict)
    by_style: dict[str, dict[str, float]] = field(default_factory=dict)
    misses: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def text(self, title: str = "") -> str:
        """The headline figures with the naive composer beside them, the breakdowns as tables, then
        every miss: what `pm-assistant eval` prints and the floor tests show."""
        lines = [title] if title else []
        lines.append(f"{'questions':24} {self.total} ({self.answerable} answerable, {self.unanswerable} not)")
        lines.append(
            f"{'answer accuracy':24} {self.answer_accuracy:.3f}   naive composer {self.naive_accuracy:.3f}"
        )
        lines.append(f"{'context recall@4':24} {self.context_recall_at_4:.3f}   MRR {self.mrr:.3f}")
        lines.append(
            f"{'refusal accuracy':24} {self.refusal_accuracy:.3f}   naive composer 0.000 (never refuses)"
        )
        lines.append(f"{'false refusals':24} {self.false_refusal_rate:.3f}")
        lines.append(f"{'latency p50 / p95 ms':24} {self.latency_p50_ms:.0f} / {self.latency_p95_ms:.0f}")
        for name, groups in (("kind", self.by_kind), ("style", self.by_style)):
            lines.append(
                f"\nby {name:10} {'n':>4} {'acc':>6} {'naive':>6} {'rec@4':>6} {'refuse':>7} {'false-r':>7}"
            )
            for group, f in sorted(groups.items()):
                refusal = "-" if f["refusal"] is None else f"{f['refusal']:.3f}"
                lines.append(
                    f"  {group:12} {f['questions']:>4} {f['accuracy']:>6.3f} {f['naive_accuracy']:>6.3f} "
                    f"{f['recall_at_4']:>6.3f} {refusal:>7} {f['false_refusals']:>7.3f}"
                )
        lines.append(f"\nmisses ({len(self.misses)}):")
        lines += ["  " + json.dumps(miss, ensure_ascii=False)[:300] for miss in self.misses]
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


def naive_answer(result: RetrievalResult, sentences: int = NAIVE_SENTENCES) -> str:
    """The baseline composer: the sentences of the retrieved passages most similar to the question."""
    scored = [(s, t) for p in result.passages for t, s in zip(p.sentences, p.sentence_scores, strict=True)]
    scored.sort(key=lambda st: -st[0])
    return " ".join(t for _, t in scored[:sentences])


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def evaluate(service: AnswerService, questions: list[dict[str, Any]]) -> EvalReport:
    report = EvalReport(total=len(questions))
    latencies: list[float] = []
    overall = Tally()
    kinds: dict[str, Tally] = {}
    styles: dict[str, Tally] = {}
    reciprocal = 0.0
    for q in questions:
        keys = list(q.get("answer_keys") or [])
        kind = q.get("kind", "fact")
        tallies = (
            overall,
            kinds.setdefault(kind, Tally()),
            styles.setdefault(q.get("style", "plain"), Tally()),
        )
        started = time.perf_counter()
        answer = service.answer(q["question"], channel="eval")
        latencies.append((time.perf_counter() - started) * 1000)
        if kind == "unanswerable":
            ok = not answer.grounded
            for t in tallies:
                t.unanswerable += 1
                t.refused_ok += ok
            if not ok:
                report.misses.append(
                    {"id": q["id"], "kind": kind, "why": "answered", "answer": answer.answer}
                )
            continue
        result = service.retrieve(q["question"], k=10)
        passages = result.passages
        rank = next((i for i, p in enumerate(passages) if _has_all(p.text, keys)), None)
        # Multi-part questions may need keys from two passages: recall counts keys across the top 4.
        in_top4 = _has_all(" ".join(p.text for p in passages[:4]), keys)
        reciprocal += 1.0 / (rank + 1) if rank is not None else 0.0
        top_k = RetrievalResult(
            result.query,
            result.expanded,
            result.query_terms,
            passages[: service.settings.retrieval.top_k],
            {},
        )
        naive_ok = _has_all(naive_answer(top_k), keys)
        ok = answer.grounded and _has_all(answer.answer, keys)
        for t in tallies:
            t.answerable += 1
            t.recall += in_top4
            t.correct += ok
            t.naive_correct += naive_ok
            t.false_refusals += not answer.grounded
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
    figures = overall.figures()
    report.answerable, report.unanswerable = overall.answerable, overall.unanswerable
    report.answer_accuracy = figures["accuracy"]
    report.naive_accuracy = figures["naive_accuracy"]
    report.context_recall_at_4 = figures["recall_at_4"]
    report.mrr = round(reciprocal / max(overall.answerable, 1), 3)
    report.refusal_accuracy = figures["refusal"] or 0.0
    report.false_refusal_rate = figures["false_refusals"]
    report.latency_p50_ms = statistics.median(latencies) if latencies else 0.0
    report.latency_p95_ms = percentile(latencies, 0.95)
    report.by_kind = {k: t.figures() for k, t in kinds.items()}
    report.by_style = {k: t.figures() for k, t in styles.items()}
    return report
