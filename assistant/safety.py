"""Spot patient-identifiable data in a question before it is answered, stored or sent to a remote model.

Practice managers sometimes paste patient details into a question. `assess` finds NHS numbers, dates of
birth, patients' names, postcodes, UK phone numbers and email addresses, and decides whether the
question is *identifiable* (must be refused, with `warning_message`, and nothing of it kept) or merely
holds lesser personal data that `redact` replaces with placeholders such as ``[postcode]``.

**Text is normalised before matching** (`normalise`): NFKC, every Unicode space (NBSP, thin, narrow NBSP,
figure space, ...) folded to " ", every dash (en, em, minus, non-breaking hyphen, ...) to "-", and
zero-width and other invisible format characters removed. Otherwise "943\u00a0476\u00a05919" or
"943\u2011476\u20115919" would read as no number at all. Findings still carry spans of the text as given,
so `redact` replaces exactly what the user typed.

**NHS numbers** are ten digits in *any* grouping (3-3-4, 4-3-3, 3-4-3, 3-3-3-1, none) separated by spaces,
dots, hyphens, slashes or a mix, and must pass the modulus 11 check digit: that check, not the layout,
is what tells an NHS number from other ten-digit figures. Whole digit groups are combined, so the ten
digits of a longer phone number or reference never count; a single ten-digit group joined to more
digits by "." or "," is a decimal or a large sum, not an NHS number.

**Names** identify someone only in context, because guidance questions name public figures all the time
("What did Professor Nigel Sparrow's review say?", "What did Mr Hunt announce?"), and redacting those
would also break the search. So the rule is: a name is personal data only when the question ties it
to a patient, i.e. a patient-role word before it ("patient Jane Smith", "my patient Mr Jones"), which alone
makes the question identifiable; or another identifier (NHS number, date of birth, postcode, phone,
email) within `NAME_CONTEXT_WINDOW` characters of it, which together identify a person. A name is a
title plus surname ("Mrs Jane Patient", "Mr J. Smith", "Dr Patel") or two or three capitalised words
that are not ordinary place, organisation or question words ("Jane Smith, DOB 1/2/80").

**Dates of birth** are ISO (1975-03-04), numeric (04/03/1975, 4.3.75, 04-03-1975) or written
(4 March 1975, 4th of March 1975, March 4, 1975). A date is a date of birth after a cue ("DOB",
"d.o.b.", "born", "date of birth") unless the words between make it a range ("born on or after
1 January 2020"), or beside an NHS number or a patient's name. Any other date is an ordinary date.

Why not Microsoft Presidio (presidio-analyzer)? Its `AnalyzerEngine` always builds a spaCy NLP engine,
which needs a downloaded spaCy model (`en_core_web_lg` by default), its email recogniser fetches the
public suffix list over the network (presidio issue #1205), and its UK `NhsRecognizer` only knows the
3-3-4 spacing with spaces or hyphens, which is exactly the gap this module closes. Its pattern
recognisers can run without the engine, but would add spaCy to the install for nothing this module
lacks. So this stays standard library only, deliberately conservative about ordinary practice-manager
numbers (financial years like 2024/25, money like £1,412m, percentages, ratios and counts).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

NHS_NUMBER = "NHS number"
NAME = "name"
POSTCODE = "postcode"
PHONE_NUMBER = "phone number"
EMAIL_ADDRESS = "email address"
DATE_OF_BIRTH = "date of birth"

KINDS: tuple[str, ...] = (NHS_NUMBER, NAME, POSTCODE, PHONE_NUMBER, EMAIL_ADDRESS, DATE_OF_BIRTH)

# When two candidate findings overlap, the one whose kind comes first here wins.
_PRIORITY = {NHS_NUMBER: 0, EMAIL_ADDRESS: 1, DATE_OF_BIRTH: 2, PHONE_NUMBER: 3, POSTCODE: 4, NAME: 5}

# How far (in characters) a date may sit after a cue such as "DOB" and still count as a date of birth.
DOB_CUE_WINDOW = 25
# How far apart a date and an NHS number or patient's name may be for the date to be taken as a birthday.
DOB_BESIDE_WINDOW = 40
# How far apart a name and another identifier may be for the two to identify one person.
NAME_CONTEXT_WINDOW = 40


@dataclass(frozen=True)
class Finding:
    """One piece of personal data: its kind, its span in the original text and the matched text."""

    kind: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class SafetyReport:
    """Everything `assess` found, in text order; `identifiable=True` means refuse and store nothing."""

    findings: tuple[Finding, ...]
    identifiable: bool

    @property
    def kinds(self) -> list[str]:
        """Distinct kinds of personal data found, in order of first appearance."""
        return list(dict.fromkeys(f.kind for f in self.findings))


# --- Normalisation ----------------------------------------------------------------------------------

_EXTRA_DASHES = frozenset("\u2212\u2043\u2e3a\u2e3b\ufe63\uff0d\u02d7")  # minus, bullets and signs not in Pd
_SLASHES = frozenset("\u2044\u2215\u29f8\uff0f")
_DOTS = frozenset("\u00b7\u2027\u2219\u22c5\u30fb")


@lru_cache(maxsize=4096)
def _fold(ch: str) -> str:
    out = []
    for c in unicodedata.normalize("NFKC", ch):
        category = unicodedata.category(c)
        if category == "Cf":  # zero-width spaces and joiners, soft hyphen, BOM, bidi controls
            continue
        if category == "Zs" or c == "\t":
            out.append(" ")
        elif category in ("Zl", "Zp"):
            out.append("\n")
        elif category == "Pd" or c in _EXTRA_DASHES:
            out.append("-")
        elif c in _SLASHES:
            out.append("/")
        elif c in _DOTS:
            out.append(".")
        else:
            out.append(c)
    return "".join(out)


def _normalise_with_map(text: str) -> tuple[str, list[int]]:
    """The folded text and, for each of its characters, the index of the original character it came from."""
    chars: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        folded = ch if ch.isascii() and ch != "\t" else _fold(ch)
        chars.append(folded)
        origin.extend([i] * len(folded))
    return "".join(chars), origin


def normalise(text: str) -> str:
    """NFKC, spaces and dashes folded to ASCII, invisible format characters removed (see module doc)."""
    return _normalise_with_map(text)[0]


# --- NHS number -------------------------------------------------------------------------------------

# A run of digit groups joined by spaces and/or one of - . / _ \ (not commas: 9,434,765,919 is a sum).
_DIGIT_RUN_RE = re.compile(r"(?<![\w+£$€#])\d+(?:(?:[ ]*[-./_\\][ ]*|[ ]+)\d+)*")
_GROUP_RE = re.compile(r"\d+")


def nhs_number_is_valid(digits: str) -> bool:
    """Modulus 11 check: weights 10..2 on the first nine digits; 11 -> 0; 10 -> never valid."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = sum(weight * int(d) for weight, d in zip(range(10, 1, -1), digits[:9], strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    if check == 10:
        return False
    return check == int(digits[9])


def _find_nhs_numbers(text: str) -> list[Finding]:
    found = []
    for run in _DIGIT_RUN_RE.finditer(text):
        groups = [(run.start() + g.start(), run.start() + g.end()) for g in _GROUP_RE.finditer(run.group())]
        for i in range(len(groups)):
            total = 0
            for j in range(i, len(groups)):
                total += groups[j][1] - groups[j][0]
                if total >= 10:
                    break
            if total != 10:
                continue
            start, end = groups[i][0], groups[j][1]
            if i == j and (re.search(r"\d[.,]$", text[:start]) or re.match(r"[.,]\d", text[end:])):
                continue  # 9434765919.5 or 1,9434765919: a number, not an identifier
            digits = "".join(text[a:b] for a, b in groups[i : j + 1])
            if nhs_number_is_valid(digits):
                found.append(Finding(NHS_NUMBER, start, end, text[start:end]))
    return found


# --- Postcode ---------------------------------------------------------------------------------------

_POSTCODE_RE = re.compile(
    r"\b(?:GIR ?0AA|"
    r"[A-PR-UWYZ](?:\d\d?|[A-HK-Y]\d\d?|\d[A-HJKPSTUW]|[A-HK-Y]\d[ABEHMNPRVWXY])"
    r" ?\d[ABD-HJLNP-UW-Z]{2})\b",
    re.IGNORECASE,
)


def _find_postcodes(text: str) -> list[Finding]:
    return [Finding(POSTCODE, m.start(), m.end(), m.group()) for m in _POSTCODE_RE.finditer(text)]


# --- Phone number -----------------------------------------------------------------------------------

# A separator between digits: a single space or hyphen, or a closing bracket after an area code.
_SEP = r"(?:[ -]|\)[ -]?)?"
_PHONE_RE = re.compile(
    r"(?:"
    # +44 / 0044 forms, optionally with the trunk zero in brackets: +44 (0)20 7946 0018
    rf"(?<![\w+])(?:\+[ ]?|00[ ]?)44[ -]?(?:\(0\)[ -]?)?[1237](?:{_SEP}\d){{9}}"
    r"|"
    # National forms: 07700 900123, 020 7946 0018, (0161) 496 0000, 01632 960123
    rf"(?<![\w+£$])(?<!\d[.,/:])\(?0[1237](?:{_SEP}\d){{9}}"
    r")(?!\d|[.,]\d)"
)


def _find_phone_numbers(text: str) -> list[Finding]:
    return [Finding(PHONE_NUMBER, m.start(), m.end(), m.group()) for m in _PHONE_RE.finditer(text)]


# --- Email address ----------------------------------------------------------------------------------

_EMAIL_RE = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}\b"
)


def _find_emails(text: str) -> list[Finding]:
    return [Finding(EMAIL_ADDRESS, m.start(), m.end(), m.group()) for m in _EMAIL_RE.finditer(text)]


# --- Dates ------------------------------------------------------------------------------------------

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DATE_RE = re.compile(
    r"(?:"
    # 1975-03-04, 1975/3/4, 1975.03.04 (same separator both times)
    r"(?<![\d/.-])(?P<y>(?:18|19|20)\d\d)(?P<isep>[/.-])(?P<im>\d{1,2})(?P=isep)(?P<id>\d{1,2})"
    r"(?![\d/-]|\.\d)"
    r"|"
    # 01/02/1980, 1-2-80, 4.3.75 (same separator both times)
    r"(?<![\d/.-])(?P<d>\d{1,2})(?P<sep>[/.-])(?P<m>\d{1,2})(?P=sep)(?:\d{4}|\d{2})(?![\d/-]|\.\d)"
    r"|"
    # 3 March 1975, 3rd of March 1975, 3 Mar '75
    rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\.?,?\s+(?:\d{{4}}|'?\d{{2}})\b"
    r"|"
    # March 3, 1975
    rf"\b{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b"
    r")",
    re.IGNORECASE,
)
_DOB_CUE_RE = re.compile(
    r"\bd\.?\s?o\.?\s?b\b|\bdate\s+of\s+birth\b|\bborn\b|\bbirthday\b|\bb\.",
    re.IGNORECASE,
)
# Words between a cue and a date that turn it into an eligibility range, not somebody's birthday:
# "children born on or after 1 January 2020".
_RANGE_WORDS_RE = re.compile(
    r"\b(?:after|before|between|since|from|until|till|prior|onwards?|or|and|to|up)\b", re.IGNORECASE
)


def _date_is_plausible(m: re.Match[str]) -> bool:
    if m.group("y") is not None:
        return 1 <= int(m.group("im")) <= 12 and 1 <= int(m.group("id")) <= 31
    if m.group("d") is None:
        return True
    a, b = int(m.group("d")), int(m.group("m"))
    # UK day/month, but accept month/day as well.
    return (1 <= a <= 31 and 1 <= b <= 12) or (1 <= a <= 12 and 1 <= b <= 31)


def _find_dates(text: str) -> list[re.Match[str]]:
    return [m for m in _DATE_RE.finditer(text) if _date_is_plausible(m)]


def _cued_dates_of_birth(text: str, dates: list[re.Match[str]]) -> list[Finding]:
    found: dict[int, Finding] = {}
    for cue in _DOB_CUE_RE.finditer(text):
        # A cue attaches only to the first date after it.
        nxt = next((d for d in dates if d.start() >= cue.end()), None)
        if nxt is None or nxt.start() - cue.end() > DOB_CUE_WINDOW:
            continue
        if _RANGE_WORDS_RE.search(text[cue.end() : nxt.start()]):
            continue
        found[nxt.start()] = Finding(DATE_OF_BIRTH, nxt.start(), nxt.end(), nxt.group())
    return list(found.values())


# --- Names ------------------------------------------------------------------------------------------

_TITLE = r"(?:Mr|Mrs|Ms|Miss|Mx|Master|Dr|Prof|Professor|Sir|Dame|Lady|Lord|Rev|Revd)"
# Smith, O'Brien, Smith-Jones, McDonald.
_WORD = r"(?:[A-Z][a-z]+(?:[A-Z][a-z]+)?(?:['’-][A-Z]?[a-z]+)*)"
_INITIALS = r"(?:[A-Z]\.?\s*){1,3}"
_TITLED = rf"\b(?-i:{_TITLE})\.?\s+(?:{_INITIALS}|(?:{_WORD}\s+){{0,2}})(?-i:{_WORD})\b"
_PLAIN = rf"\b{_WORD}(?:\s+{_WORD}){{1,2}}\b"
_TITLED_RE = re.compile(_TITLED)
_PLAIN_RE = re.compile(_PLAIN)
# "patient Jane Smith", "my patient, Mr Jones", "a patient called Jane", "Patient: J. Smith".
_PATIENT_NAME_RE = re.compile(
    r"\b(?i:patient)(?:'s)?(?:\s+(?:called|named))?\s*[,:-]?\s+"
    rf"(?P<name>{_TITLE}\.?\s+(?:{_INITIALS}|(?:{_WORD}\s+){{0,2}}){_WORD}|{_INITIALS}{_WORD}"
    rf"|{_WORD}(?:\s+{_WORD}){{0,2}})\b"
)
# Capitalised words that are not people: what follows "Patient" in NHS terms, places and streets,
# organisations, calendar words, and words that open a question.
_NOT_NAMES = frozenset(
    [
        "access",
        "online",
        "participation",
        "group",
        "groups",
        "direction",
        "directions",
        "services",
        "service",
        "record",
        "records",
        "registration",
        "experience",
        "safety",
        "choice",
        "charter",
        "survey",
        "transport",
        "champion",
        "champions",
        "liaison",
        "advice",
        "partnership",
        "reference",
        "leaflet",
        "information",
        "portal",
        "app",
        "knows",
        "first",
        "care",
        "level",
        "specific",
        "journey",
        "north",
        "south",
        "east",
        "west",
        "northern",
        "southern",
        "eastern",
        "western",
        "central",
        "greater",
        "upper",
        "lower",
        "new",
        "old",
        "great",
        "london",
        "england",
        "wales",
        "scotland",
        "ireland",
        "britain",
        "kingdom",
        "united",
        "midlands",
        "yorkshire",
        "manchester",
        "lane",
        "road",
        "street",
        "avenue",
        "close",
        "drive",
        "way",
        "court",
        "place",
        "square",
        "gardens",
        "park",
        "hill",
        "green",
        "terrace",
        "crescent",
        "grove",
        "row",
        "walk",
        "mews",
        "house",
        "centre",
        "center",
        "surgery",
        "practice",
        "practices",
        "medical",
        "health",
        "clinic",
        "hospital",
        "trust",
        "council",
        "network",
        "networks",
        "primary",
        "secondary",
        "integrated",
        "board",
        "boards",
        "commission",
        "committee",
        "department",
        "office",
        "agency",
        "authority",
        "federation",
        "alliance",
        "association",
        "society",
        "college",
        "royal",
        "institute",
        "university",
        "school",
        "fund",
        "funding",
        "scheme",
        "contract",
        "framework",
        "review",
        "plan",
        "policy",
        "programme",
        "standard",
        "standards",
        "guidance",
        "act",
        "regulations",
        "partners",
        "partner",
        "manager",
        "managers",
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "whose",
        "why",
        "how",
        "can",
        "could",
        "should",
        "would",
        "will",
        "shall",
        "does",
        "did",
        "do",
        "is",
        "are",
        "was",
        "were",
        "has",
        "have",
        "had",
        "may",
        "might",
        "must",
        "our",
        "the",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "please",
        "we",
        "i",
        "if",
        "call",
        "ring",
        "email",
        "phone",
        "tel",
        "contact",
        "write",
        "send",
        "dear",
        "hi",
        "hello",
        "thanks",
        "regards",
        "and",
        "or",
        "but",
        "for",
        "with",
        "from",
        "about",
        "after",
        "before",
        "since",
        "during",
        "under",
        "over",
        "between",
        "patient",
        "patients",
        "nhs",
        "gp",
        "gps",
        "date",
        "birth",
        "born",
        "name",
        "names",
        "number",
        "numbers",
        "age",
        "aged",
        "address",
        "details",
        "list",
        "notes",
        "data",
        "consent",
        "feedback",
        "complaint",
        "complaints",
        "letter",
        "letters",
        "request",
        "requests",
        "summary",
        "summaries",
        "rights",
    ]
)
_NAME_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'’-]*")


def _is_name(span: str, *, titled: bool) -> bool:
    if titled:
        return True  # "Mrs", "Dr" and the like are followed by a name, even "Mrs Jane Patient"
    words = [w.lower().rstrip("'’") for w in _NAME_WORD_RE.findall(span)]
    return not any(w in _NOT_NAMES for w in words)


def _patient_names(text: str) -> list[Finding]:
    found = []
    for m in _PATIENT_NAME_RE.finditer(text):
        name = m.group("name")
        titled = re.match(_TITLE, name) is not None
        if _is_name(name, titled=titled):
            found.append(Finding(NAME, m.start("name"), m.end("name"), name))
    return found


def _name_candidates(text: str) -> list[Finding]:
    found = []
    for regex, titled in ((_TITLED_RE, True), (_PLAIN_RE, False)):
        for m in regex.finditer(text):
            if _is_name(m.group(), titled=titled):
                found.append(Finding(NAME, m.start(), m.end(), m.group()))
    return found


def _gap(a: Finding, b: Finding) -> int:
    return max(a.start - b.end, b.start - a.end, 0)


# --- Public API -------------------------------------------------------------------------------------


def _without_overlaps(candidates: list[Finding]) -> list[Finding]:
    candidates = sorted(candidates, key=lambda f: (_PRIORITY[f.kind], f.start, -(f.end - f.start)))
    chosen: list[Finding] = []
    for cand in candidates:
        if all(cand.end <= f.start or cand.start >= f.end for f in chosen):
            chosen.append(cand)
    return sorted(chosen, key=lambda f: f.start)


def _is_identifiable(kinds: Sequence[str], patient_named: bool) -> bool:
    counts = {kind: kinds.count(kind) for kind in KINDS}
    if counts[NHS_NUMBER] or patient_named:
        return True
    if counts[NAME] and len(kinds) > counts[NAME]:
        return True
    if counts[DATE_OF_BIRTH] >= 2:
        return True
    contact = counts[PHONE_NUMBER] or counts[EMAIL_ADDRESS]
    if counts[DATE_OF_BIRTH] and (counts[POSTCODE] or contact):
        return True
    return bool(counts[POSTCODE] and contact)


def _detect(text: str) -> tuple[list[Finding], bool]:
    """Findings over already-normalised text, and whether a name was tied to a patient by a role word."""
    phones = _find_phone_numbers(text)
    # Ten digits inside a longer phone number are part of it, not an NHS number.
    nhs = [
        n for n in _find_nhs_numbers(text) if not any(p.start <= n.start and n.end <= p.end for p in phones)
    ]
    patient_names = _patient_names(text)
    dates = _find_dates(text)
    dobs = _cued_dates_of_birth(text, dates)
    strong = [*nhs, *patient_names]
    for d in dates:
        date = Finding(DATE_OF_BIRTH, d.start(), d.end(), d.group())
        if any(_gap(date, s) <= DOB_BESIDE_WINDOW for s in strong) and all(
            x.start != date.start for x in dobs
        ):
            dobs.append(date)
    others = _without_overlaps([*nhs, *_find_emails(text), *dobs, *phones, *_find_postcodes(text)])
    names = list(patient_names)
    for cand in _name_candidates(text):
        if any(_gap(cand, other) <= NAME_CONTEXT_WINDOW for other in others):
            names.append(cand)
    chosen = _without_overlaps([*others, *names])
    return chosen, any(f in chosen for f in patient_names)


def assess(text: str) -> SafetyReport:
    """Find personal data in `text` and decide whether the question identifies a patient.

    Identifiable: any valid NHS number; a patient's name ("patient Jane Smith"); a name beside another
    identifier; a date of birth with any other finding; a postcode with a phone number or email
    address; or two or more dates of birth. A lone postcode, phone number, email address or date of
    birth is reported (so it can be redacted) but is not identifiable.
    """
    folded, origin = _normalise_with_map(text)
    found, patient_named = _detect(folded)
    findings = []
    for f in found:
        start, end = origin[f.start], origin[f.end - 1] + 1
        findings.append(Finding(f.kind, start, end, text[start:end]))
    return SafetyReport(
        findings=tuple(findings), identifiable=_is_identifiable([f.kind for f in findings], patient_named)
    )


def redact(text: str, findings: Sequence[Finding] | None = None) -> str:
    """Replace each finding with a placeholder naming its kind, e.g. "[NHS number]", "[postcode]".

    With no `findings`, `assess(text)` is used. Overlapping findings are skipped after the first.
    """
    if findings is None:
        findings = assess(text).findings
    parts: list[str] = []
    pos = 0
    for f in sorted(findings, key=lambda f: (f.start, -f.end)):
        if f.start < pos:
            continue
        parts.append(text[pos : f.start])
        parts.append(f"[{f.kind}]")
        pos = f.end
    parts.append(text[pos:])
    return "".join(parts)


_ARTICLED = {
    NHS_NUMBER: "an NHS number",
    NAME: "a name",
    POSTCODE: "a postcode",
    PHONE_NUMBER: "a phone number",
    EMAIL_ADDRESS: "an email address",
    DATE_OF_BIRTH: "a date of birth",
}


def _join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def warning_message(report: SafetyReport) -> str:
    """A plain, friendly explanation of why the question was not answered, naming what was found."""
    kinds = report.kinds
    if kinds:
        found = f"Your question seems to include {_join([_ARTICLED.get(k, k) for k in kinds])}, "
        found += "which could identify a patient."
    else:
        found = "Your question seems to include details that could identify a patient."
    return (
        f"{found} To protect patient confidentiality I haven't answered it, and nothing from your "
        "question has been stored. Please remove any patient-identifiable details (such as names, "
        "NHS numbers, dates of birth, addresses, postcodes, phone numbers or email addresses) and "
        "ask again in general terms."
    )
