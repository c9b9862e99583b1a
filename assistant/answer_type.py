"""What kind of answer a question expects, and whether a sentence carries one.

An extractive answer can only be right if a supporting sentence holds the kind of thing asked for:
"how much" needs an amount, "when" a date, "how many" a number. A question whose best sentences hold none
is one the corpus does not answer, however similar its wording. Likewise a year the question names
("for 2025/26") must appear in the support, and a named place or body the corpus never mentions
("Northern Ireland") means the corpus does not cover it.
"""

from __future__ import annotations

import re

_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"hundred|thousand|dozen|half|a third|a quarter"
)
_MONTHS = r"January|February|March|April|May|June|July|August|September|October|November|December"

_TYPES: list[tuple[str, re.Pattern[str]]] = [
    ("phone", re.compile(r"\b(tele)?phone( number)?\b|\bhelpline\b|\bcontact number\b", re.I)),
    ("percent", re.compile(r"\bwhat (percentage|proportion|share)\b|\bwhat per ?cent\b|\bpass mark\b", re.I)),
    (
        "money",
        re.compile(
            r"\bhow much\b(?! (time|notice|longer|experience))"
            r"|^\s*(what|which)\b.*\b(cost|fee|price|salary|subscription|allowance|budget|rate|payment|worth)s?\b",
            re.I,
        ),
    ),
    ("duration", re.compile(r"\bhow long\b|\bhow many (days|weeks|months|years)\b|\bnotice\b", re.I)),
    ("number", re.compile(r"\bhow many\b|\bnumber of\b|\bhow big\b|\bwhat size\b|\bdistance\b", re.I)),
    (
        "date",
        re.compile(
            r"^\s*(and )?when\b|\bwhat (date|year|day|month)\b|\bwhich (year|date)\b|\bsince when\b", re.I
        ),
    ),
]

_HAS: dict[str, re.Pattern[str]] = {
    "phone": re.compile(r"\b0\d{3,4}[\s-]?\d{3}[\s-]?\d{3,4}\b|\+44"),
    "percent": re.compile(r"\d\s?%|\bper ?cent\b", re.I),
    "money": re.compile(r"£\s?\d|\d\s?(bn|m)\b|\bpounds\b|\d\s?%", re.I),
    "duration": re.compile(rf"\b(\d+|{_NUMBER_WORDS})[- ](day|week|month|year)s?\b", re.I),
    "number": re.compile(rf"\b\d[\d,.]*\b|\b({_NUMBER_WORDS})\b", re.I),
    "date": re.compile(rf"\b(1[89]|20)\d\d\b|\b({_MONTHS})\b", re.I),
}

_YEAR = re.compile(r"\b(19|20)\d\d(/\d\d)?\b")
_NAME = re.compile(r"(?<![.?!]\s)(?<!^)\b([A-Z][a-z]+(?:\s+[A-Z][a-z]+)*|[A-Z]{2,}[a-z]?)\b")
_COMMON_CAPITALS = frozenset(
    {
        "I",
        "My",
        "We",
        "Our",
        "What",
        "When",
        "Who",
        "How",
        "Which",
        "Is",
        "Are",
        "Do",
        "Does",
        "Did",
        "Can",
        "If",
        "And",
        "The",
        "A",
        "In",
        "For",
        "Under",
        "From",
        "To",
        "Of",
        "Or",
        "NHS",
        "GP",
        "GPs",
        "UK",
        "England",
        "English",
        "Dr",
        "Mr",
        "Mrs",
        "Ms",
        "Professor",
        "Sir",
        "Dame",
    }
)


_YES_NO = re.compile(
    r"^\s*(can|could|is|are|was|were|do|does|did|should|must|will|would|has|have|may)\b", re.I
)


def expected_type(question: str) -> str | None:
    """The first matching kind, most specific first; yes/no questions expect no particular kind."""
    if _YES_NO.match(question) and not re.search(r"\b(how|when|what|which)\b", question, re.I):
        return None
    for kind, pattern in _TYPES:
        if pattern.search(question):
            return kind
    return None


def has_type(sentence: str, kind: str | None) -> bool:
    if kind is None:
        return True
    if kind == "money" and _HAS["money"].search(sentence):
        return True
    if kind == "duration" and (_HAS["duration"].search(sentence) or _HAS["date"].search(sentence)):
        return True
    return bool(_HAS[kind].search(sentence))


def required_years(question: str) -> list[str]:
    """Years and contract years the question names ("2019", "2025/26")."""
    return [m.group(0) for m in _YEAR.finditer(question)]


def unknown_names(
    question: str, vocabulary: frozenset[str], known: frozenset[str] = frozenset()
) -> list[str]:
    """Capitalised names in the question whose words never occur in `vocabulary` (the words of the
    passages that support the answer)."""
    missing = []
    for match in _NAME.finditer(question):
        name = match.group(1)
        if name in _COMMON_CAPITALS or name.lower() in known:
            continue
        words = [w.lower() for w in name.split()]
        if any(w not in vocabulary and w.rstrip("s") not in vocabulary for w in words):
            missing.append(name)
    return missing


_PART_SPLIT = re.compile(
    r",?\s+and\s+(?=(?:how|when|what|who|whom|which|where|why|is|are|was|were|did|does|do|can|from|on|in|by|at)\b)"
    r"|\?\s+(?=\S)",
    re.I,
)


def question_parts(question: str) -> list[str]:
    """The parts of a two-part question ("When did X start, and how many Y are there?")."""
    parts = [p.strip(" ,?") for p in _PART_SPLIT.split(question)]
    # Two parts at most: anything longer is one question (and one retrieval), however it is punctuated.
    if len(parts) != 2 or any(len(p.split()) < 5 for p in parts):
        return [question]
    return [p + "?" for p in parts]
