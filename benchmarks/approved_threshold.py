"""Calibrate PMA_ANSWER__APPROVED_MIN_SIMILARITY: how close must a question be to an approved one?

Reads (approved question, paraphrase that should match, near-miss that should not) triples — a near-miss
is about the same topic but asks something else, so serving the approved answer to it would be wrong.
Every approved question is in the store at once, as in production: a paraphrase counts as matched only
when its best match is its own approved question; a near-miss is a false match when its best similarity
to any approved question reaches the threshold. Prints precision and recall per threshold and the
lowest threshold at which no near-miss matches.

    python benchmarks/approved_threshold.py [tests/eval/approved_pairs.jsonl]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from assistant.approved import asked_kind
from assistant.embeddings import get_embedder

DEFAULT = Path(__file__).resolve().parent.parent / "tests" / "eval" / "approved_pairs.jsonl"


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else DEFAULT
    triples = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    embedder = get_embedder()
    approved = embedder.encode([t["approved"] for t in triples])
    paraphrases = embedder.encode([t["paraphrase"] for t in triples])
    near = embedder.encode([t["near_miss"] for t in triples])
    kinds = [asked_kind(t["approved"]) for t in triples]

    def gated(texts: list[str], sims: np.ndarray) -> np.ndarray:
        # As ApprovedAnswers.match: only approved wordings that want the same kind of answer compete.
        same = np.array([[asked_kind(t) == k for k in kinds] for t in texts])
        return np.where(same, sims, -1.0)

    para_sims = paraphrases @ approved.T  # (n, n)
    near_sims = near @ approved.T
    print(f"{len(triples)} triples from {path}")
    print("\n--- cosine similarity alone ---")
    report(triples, para_sims, near_sims)
    print("\n--- cosine similarity, same kind of answer wanted (what the service does) ---")
    report(
        triples,
        gated([t["paraphrase"] for t in triples], para_sims),
        gated([t["near_miss"] for t in triples], near_sims),
    )
    return 0


def report(triples: list[dict[str, str]], para_sims: np.ndarray, near_sims: np.ndarray) -> None:
    own = np.arange(len(triples))
    para_best, para_arg = para_sims.max(axis=1), para_sims.argmax(axis=1)
    near_best = near_sims.max(axis=1)

    print(
        f"paraphrase similarity to its own question: min {para_sims[own, own].min():.3f}, "
        f"median {np.median(para_sims[own, own]):.3f}"
    )
    print(
        f"near-miss best similarity to any question: max {near_best.max():.3f}, "
        f"median {np.median(near_best):.3f}"
    )
    print(f"\n{'threshold':>9} {'recall':>7} {'precision':>9} {'near-misses matched':>20}")
    safe = None
    for threshold in np.arange(0.50, 0.981, 0.02):
        right = int(((para_best >= threshold) & (para_arg == own)).sum())
        wrong_para = int(((para_best >= threshold) & (para_arg != own)).sum())
        wrong_near = int((near_best >= threshold).sum())
        matched = right + wrong_para + wrong_near
        precision = right / matched if matched else 1.0
        print(f"{threshold:9.2f} {right / len(triples):7.2f} {precision:9.2f} {wrong_near:20d}")
        if safe is None and wrong_near == 0 and wrong_para == 0:
            safe = (round(float(threshold), 2), right / len(triples))
    if safe:
        print(f"\nlowest threshold with no wrong match: {safe[0]:.2f} (paraphrase recall {safe[1]:.2f})")
    worst = int(near_best.argmax())
    print(
        f"closest near-miss: {triples[worst]['near_miss']!r} ~ "
        f"{triples[int(near_sims[worst].argmax())]['approved']!r} ({near_best[worst]:.3f})"
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
