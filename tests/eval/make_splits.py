"""Split the question pool into train / dev / test by document, reproducibly.

    python tests/eval/make_splits.py

Every question names the document it is about (`doc`; for an unanswerable one, the document it is
closest to). Documents, not questions, are dealt to the splits, so no document's wording is on both
sides: the corpus notes, the long-form documents and the questions from outside the library (one group
per subject) are each sorted by a hash of their name and dealt train, train, train, dev, test in turn
(about 60/20/20 of documents in each family). The hash makes the deal independent of file order and of
how many questions a document has; a new family moves no document of another (a document added to a
family can move that family's later documents). Run again after the pool changes; the splits are
committed with the pool.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
POOL = HERE / "pool"
PATTERN = ("train", "train", "train", "dev", "test")


# Families dealt apart: the long-form documents, the questions from outside the library (grouped by
# subject, `outside/<subject>`), and the corpus notes (everything else).
FAMILIES = ("documents", "outside")


def family(doc: str) -> str:
    head = doc.split("/")[0]
    return head if head in FAMILIES else "corpus"


def deal(docs: set[str]) -> dict[str, str]:
    ordered = sorted(docs, key=lambda d: hashlib.sha256(d.encode()).hexdigest())
    return {doc: PATTERN[i % len(PATTERN)] for i, doc in enumerate(ordered)}


def main() -> None:
    questions = []
    for path in sorted(POOL.glob("*.jsonl")):
        questions += [
            json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
        ]
    ids = Counter(q["id"] for q in questions)
    duplicated = [i for i, n in ids.items() if n > 1]
    if duplicated:
        raise SystemExit(f"duplicate ids: {duplicated[:10]}")
    families: dict[str, set[str]] = {}
    for q in questions:
        families.setdefault(family(q["doc"]), set()).add(q["doc"])
    split_of: dict[str, str] = {}
    for docs in families.values():
        split_of.update(deal(docs))
    out: dict[str, list[str]] = {name: [] for name in dict.fromkeys(PATTERN)}
    for q in sorted(questions, key=lambda q: q["id"]):
        out[split_of[q["doc"]]].append(json.dumps(q, ensure_ascii=False))
    for name, lines in out.items():
        (HERE / f"{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        kinds = Counter(json.loads(line)["kind"] for line in lines)
        docs = sum(1 for s in split_of.values() if s == name)
        print(f"{name}: {len(lines)} questions over {docs} documents {dict(kinds)}")


if __name__ == "__main__":
    main()
