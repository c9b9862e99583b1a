"""Acronyms and their full forms, expanded in either direction at query time.

Practice managers write "ARRS" and "additional roles reimbursement scheme" interchangeably; the notes
use both, but a question carries only one. The glossary is curated in the corpus (`corpus/glossary.yml`).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml


class Glossary:
    def __init__(self, entries: dict[str, list[str]]) -> None:
        self.entries = entries
        self._acronyms = {a: re.compile(rf"(?<![\w-]){re.escape(a)}s?(?![\w-])") for a in entries}
        self._forms = {
            a: [re.compile(rf"\b{re.escape(f)}s?\b", re.IGNORECASE) for f in forms]
            for a, forms in entries.items()
        }

    @property
    def words(self) -> frozenset[str]:
        """Every acronym and word of a full form, lower-cased: names the assistant knows about."""
        found = {a.lower() for a in self.entries}
        for forms in self.entries.values():
            for form in forms:
                found.update(w.lower() for w in re.findall(r"[A-Za-z]+", form))
        return frozenset(found)

    @classmethod
    def load(cls, path: Path | None) -> Glossary:
        if path is None or not path.is_file():
            return cls({})
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return cls({str(k): [str(v)] if isinstance(v, str) else [str(x) for x in v] for k, v in raw.items()})

    def expansions(self, text: str) -> list[str]:
        """Forms missing from the text whose counterpart is present."""
        extra: list[str] = []
        for acronym, forms in self.entries.items():
            has_acronym = bool(self._acronyms[acronym].search(text))
            has_form = any(p.search(text) for p in self._forms[acronym])
            if has_acronym and not has_form:
                extra.append(forms[0])
            elif has_form and not has_acronym:
                extra.append(acronym)
        return extra

    def expand(self, text: str) -> str:
        extra = self.expansions(text)
        return f"{text} ({'; '.join(extra)})" if extra else text
