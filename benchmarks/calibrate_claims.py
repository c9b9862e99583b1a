"""Choose `PMA_LLM__MIN_CLAIM_SIMILARITY`: how close a generated sentence must be to what it cites.

    pm-ingest corpus tests/eval/documents --data-dir var/eval
    python benchmarks/calibrate_claims.py --data-dir var/eval

For every answerable question of tests/eval/train.jsonl and dev.jsonl (test.jsonl is not read), a
*claim* is written the way a model restates an answer: the question's words with the answer key
("when did the IGPM get founded: 2007."). A supported claim cites the passage holding the key: its
similarity is the best match among that passage's sentences. An unsupported claim cites the wrong
passage: the closest passage of any *other* document (a hard negative: the nearest thing a model could
mis-cite). The threshold is the highest value that still passes `--keep` of the supported claims; the
script prints both distributions and the share of wrong citations that value lets through.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.config import Settings
from assistant.service import AnswerService

EVAL = Path("tests/eval")


def claim(question: str, key: str) -> str:
    return f"{question.strip().rstrip('?').strip()}: {key}."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("var/eval"))
    parser.add_argument("--keep", type=float, default=0.95, help="share of supported claims to pass")
    args = parser.parse_args(argv)

    service = AnswerService(Settings(data_dir=args.data_dir))
    index = service.cache.current()
    sources = np.array(index.sources)
    owner = np.repeat(np.arange(len(index.ids)), index.spans[:, 1] - index.spans[:, 0])
    rows = []
    for split in ("train", "dev"):
        for line in (EVAL / f"{split}.jsonl").read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            if item.get("trap") or not item.get("answer_keys") or not item.get("doc"):
                continue
            rows.append(item)

    positives: list[float] = []
    negatives: list[float] = []
    for item in rows:
        key = str(item["answer_keys"][0])
        doc_chunks = [i for i, s in enumerate(sources) if s == item["doc"] or s.endswith("/" + item["doc"])]
        holder = next(
            (
                pos
                for pos in doc_chunks
                for sentence in index.chunk(pos).sentences
                if key.lower() in sentence.lower()
            ),
            None,
        )
        if holder is None:
            continue
        vector = service.embedder.encode([claim(item["question"], key)])[0]
        sims = index.sentence_vectors @ vector
        start, end = index.spans[holder]
        positives.append(float(sims[start:end].max()))
        other = sources[owner] != sources[holder]
        negatives.append(float(sims[other].max()))

    pos, neg = np.array(positives), np.array(negatives)
    threshold = float(np.floor(np.quantile(pos, 1 - args.keep) * 100) / 100)
    print(f"questions with a key sentence found: {len(pos)} (train + dev, answerable)")
    for name, values in (("supported (cites the key passage)", pos), ("mis-cited (closest other doc)", neg)):
        q = np.quantile(values, [0.05, 0.25, 0.5, 0.75, 0.95])
        print(
            f"  {name:36s} p5 {q[0]:.2f}  p25 {q[1]:.2f}  median {q[2]:.2f}  p75 {q[3]:.2f}  p95 {q[4]:.2f}"
        )
    print(f"threshold keeping {args.keep:.0%} of supported claims: {threshold:.2f}")
    for t in sorted({threshold, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7}):
        print(
            f"  at {t:.2f}: supported kept {np.mean(pos >= t):.2f}, mis-cited passing {np.mean(neg >= t):.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
