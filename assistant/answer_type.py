"""What kind of answer a question expects, and whether a sentence carries one.

An extractive answer can only be right if a supporting sentence holds the kind of thing asked for:
"how much" needs an amount, "when" a date, "how many" a number. A question whose best sentences hold none
is one the corpus does not answer, however similar its wording. Likewise a year the question names
("for 2025/26") must appear in the support, and a named place or body the corpus never mentions
("Northern Ireland") means the corpus does not cover it.

The thing asked for matters as much as its kind: "How much notice must a practice give?" is not answered
by a sentence about how long a list closure lasts, though both hold a duration. `asked_for` reads that
thing off the question's wh-phrase so the composer can require a sentence that names it.
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
    (
        "percent",
        re.compile(
            r"\bwhat (percentage|proportion|share)\b|\bwhat per ?cent\b|\bpass mark\b|\bhow much of\b", re.I
        ),
    ),
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
        "name",
        re.compile(
            r"^\s*(and\s+)?(who|whom)\b|\bwhich (\w+ )?(organisation|organization|body|company|practice|firm|"
            r"charity|council|college|union|regulator|founder|chair|director|minister|secretary|person)s?\b",
            re.I,
        ),
    ),
    (
        "date",
        re.compile(
            r"^\s*(and )?when\b|\bwhat (date|year|day|month)\b|\bwhich (year|date)\b|\bsince when\b"
            r"|\bdeadline\b",
            re.I,
        ),
    ),
]

_HAS: dict[str, re.Pattern[str]] = {
    "phone": re.compile(r"\b0\d{3,4}[\s-]?\d{3}[\s-]?\d{3,4}\b|\+44"),
    "percent": re.compile(r"\d\s?%|\bper ?cent\b", re.I),
    "money": re.compile(r"£\s?\d|\d\s?(bn|m)\b|\bpounds\b", re.I),  # a share is no sum of money
    "duration": re.compile(rf"\b(\d+|{_NUMBER_WORDS})[- ](hour|day|week|month|year)s?\b", re.I),
    "number": re.compile(rf"\b\d[\d,.]*\b|\b({_NUMBER_WORDS})\b", re.I),
    "date": re.compile(rf"\b(1[89]|20)\d\d\b|\b({_MONTHS})\b"),  # case matters: "may" is no month
}
# Dates, years, periods, sums and shares, whose digits are no answer to "how many".
_NOT_A_COUNT = re.compile(
    rf"\b(\d{{1,2}}\s+)?({_MONTHS})(\s+\d{{4}})?\b|\b(19|20)\d\d(/\d\d)?\b"
    rf"|\b(\d+|{_NUMBER_WORDS})[- ](day|week|month|year)s?\b"
    r"|£\s?[\d,.]+\s?(bn|m|k)?\b|\b[\d.]+\s?(%|per ?cent)",
    re.I,
)

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


def has_type(sentence: str, kind: str | None, asked: str = "") -> bool:
    """Whether `sentence` holds an answer of `kind`; for a name, one that `asked` does not already give."""
    if kind is None:
        return True
    if kind == "name":
        given = {w.lower() for w in _PHRASE_WORD.findall(asked)}
        return any(
            name not in _COMMON_CAPITALS
            and not re.fullmatch(_MONTHS, name)
            and not ({w.lower() for w in name.split()} <= given)
            for name in (m.group(1) for m in _NAME.finditer(sentence))
        )
    if kind == "number":
        return bool(_HAS["number"].search(_NOT_A_COUNT.sub(" ", sentence)))
    if kind in ("duration", "date"):
        # "When must the form be returned?" is answered by "two weeks before", as "how long" by a date.
        return bool(_HAS["duration"].search(sentence) or _HAS["date"].search(sentence))
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


# --- the thing asked for ------------------------------------------------------------------------------

_WH_PHRASE = [
    # "How much does a typical partnership buy-in cost?" -> typical partnership buy-in
    re.compile(
        r"\bhow much (?:does|did|do|would|will|is|was)\s+(?:it\s+)?(?:the |a |an )?(.+?)\s+"
        r"(?:cost|pay|charge|earn)\b",
        re.I,
    ),
    # "How much is the yearly subscription for…" -> yearly subscription
    re.compile(r"\bhow (?:many|much)\s+(?:is|are|was|were)\s+(?:the|a|an)\s+(.+)", re.I),
    # "How many days' notice must…" -> days' notice
    re.compile(r"\bhow (?:many|much)\s+(.+)", re.I),
    # "What is the maximum reimbursable salary for…" -> maximum reimbursable salary
    re.compile(r"^\s*(?:and\s+)?(?:what|which)\s+(?:is|are|was|were)\s+(?:the|a|an)\s+(.+)", re.I),
    # "Which online portal do we use…", "What starting salary do…" -> online portal, starting salary
    re.compile(r"^\s*(?:and\s+)?(?:what|which)\s+(.+)", re.I),
]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that end the noun phrase: auxiliaries, prepositions, pronouns, conjunctions.
_PHRASE_END = _words(
    """is are was were be been being do does did can could should must will would shall has have had may
    might of for in on at to from by with under per that which who whom whose and or if when than as into
    about over after before since during between through there their our my your its it this these those
    we i you they he she usually typically each every towards toward like via against within without across
    around among upon onto beyond"""
) | _words(  # nouns that only say who or what kind of thing answers; a verb follows ("people mark…")
    "people person body bodies organisation organisations organization organizations"
)
# Verbs that may follow the noun phrase directly ("How many people got…"); "-ed" forms are caught apart.
_VERBS = _words(
    """get gets got come comes came take takes took sit sits go goes went make makes made give gives gave
    pay pays paid receive receives need needs use uses say says said run runs ran hold holds held keep keeps
    kept cost costs provide provides commission commissions"""
)
# Words that qualify or classify the thing asked for without naming it.
_NOT_NAMING = _words(
    """a an the yearly annual total maximum minimum typical exact current average usual overall standard
    roughly approximately exactly amount number kind type sort way body organisation organization thing
    things year years date month months day days week weeks time percentage proportion share
    figure sum one ones part main difference level money value price experience deadline"""
)
# "How is the payment taxed?": a passive question asks about that treatment, which the support must name.
_PASSIVE = re.compile(
    r"^\s*(?:and\s+)?how (?:is|are|was|were)\s+(?:[\w£,.'’-]+\s+){1,8}?"
    r"(\w+ed|paid|made|given|held|kept|set)\b",
    re.I,
)
_PHRASE_WORD = re.compile(r"[A-Za-z][\w/-]*(?:['’][a-z]+)?")
FOCUS_WORDS = 3


def asked_for(question: str) -> list[str]:
    """The words of the question's wh-phrase that name the thing asked for, e.g. ["notice"] for "How many
    days' notice must…" and ["online", "portal"] for "Which online portal…". Empty when the phrase names
    only a kind of answer ("How many people…", "What share…") or there is no wh-phrase."""
    for pattern in _WH_PHRASE:
        match = pattern.search(question)
        if not match:
            continue
        return _noun_phrase(_words_of(match.group(1))[: FOCUS_WORDS + 2])
    return []


def asked_treatment(question: str) -> str | None:
    """The participle of a passive how-question ("How is the payment *taxed*?")."""
    match = _PASSIVE.search(question)
    return match.group(1).lower() if match else None


def asked_whether(question: str) -> list[str]:
    """What a yes/no question asks about, which the answer must speak of: the object of its verb ("Can a
    patient get *financial compensation* through…") or, when no verb is recognised, its closing noun
    phrase ("Does it count towards *NHS pension*?"). Empty for other questions."""
    if not _YES_NO.match(question) or re.search(r"\b(how|when|what|which|who)\b", question, re.I):
        return []
    words = _words_of(question)
    verb = next((i for i, w in enumerate(words[2:], start=2) if w in _VERBS or _participle(w)), None)
    if verb is not None and (obj := _noun_phrase(words[verb + 1 :])):
        return obj
    return _noun_phrase(words[::-1])[::-1]


def _words_of(text: str) -> list[str]:
    """Lower-cased words without a possessive ending ("days'" -> "days")."""
    return [re.sub(r"['’]s?$", "", raw.lower()) for raw in _PHRASE_WORD.findall(text)]


def _participle(word: str) -> bool:
    return word.endswith("ed") and len(word) > 4


def _noun_phrase(words: list[str]) -> list[str]:
    """The naming words of the noun phrase `words` start with, up to FOCUS_WORDS of them."""
    named: list[str] = []
    for word in words:
        if word in _PHRASE_END or word in _VERBS or _participle(word):
            break
        if word not in _NOT_NAMING:
            named.append(word)
        if len(named) == FOCUS_WORDS:
            break
    return named
