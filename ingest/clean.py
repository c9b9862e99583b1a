"""Remove web-page furniture from text before it is chunked.

Saved web pages (and HTML whose main content could not be isolated) carry lines such as
"Skip to main content", cookie banners, share buttons and navigation bars. Left in, they turn up
as "answers" and dilute every chunk's embedding. The rule here is conservative: a line is dropped
only when it is short (so article sentences that merely mention cookies or sharing survive) and
matches a known furniture pattern, or when it is plainly a navigation bar, breadcrumb or link list.
Titles a real practice document might carry ("Privacy notice", "Terms and conditions") are not
patterns here: a practice's own privacy notice is exactly the kind of page worth ingesting.
"""

from __future__ import annotations

import re

MAX_FURNITURE_WORDS = 12  # furniture lines are short; longer lines are treated as article text
MAX_BANNER_WORDS = 45  # cookie and browser banners run longer but always open the same way

_SHORT_PATTERNS = [
    r"skip (to|navigation)( (the )?(main )?(content|navigation|menu))?",
    r"share( this)?( article| page| post| story| link)?( on| via| by)?( \w+){0,2}",
    r"(tweet|email|e-mail|copy link|pin it|facebook|twitter|linkedin|whatsapp|x)",
    r"print( this)?( page| article)?",
    r"(we|this (web)?site) uses? (essential )?cookies.*",
    r"(accept|reject|allow|decline)( all| optional| additional| analytics| non-essential)? cookies",
    r"(accept|reject|accept all|reject all|i accept|i agree|ok,? got it|got it|allow all|close)",
    r"(cookie|cookies) (settings|preferences|consent)",
    r"(manage|change|set|review) (my |your )?(cookies|cookie (settings|preferences))",
    r"(use )?(strictly )?necessary cookies only",
    r"(sign up|signup|subscribe|register)( now| today)?"
    r"( (to|for) (our|the) (\w+ )?(newsletter|bulletin|updates|emails?))?",
    r"(newsletter|email) sign[- ]?up",
    r"(get|receive) (our|the) (latest )?(newsletter|news|updates)( by email| in your inbox)?",
    r"enter your email( address)?",
    r"follow us( on .*)?",
    r"(connect|find) (with )?us on .*",
    r"you are using an? (outdated|old|unsupported) browser.*",
    r"(your|this) browser is (out of date|outdated|not supported).*",
    r"(please )?(enable|turn on) javascript.*",
    r"javascript (is )?(disabled|required|must be enabled).*",
    r"back to (the )?top",
    r"(main |site )?(menu|navigation)",
    r"(open|close|toggle) (the )?(menu|navigation|search)",
    r"search( this site| the site| our site)?",
    r"(log ?in|log out|sign ?in|sign out|register|my account)",
    r"related (articles|content|news|posts|links|stories|pages|topics)",
    r"(read|see|view) (more|all)( (about|on|from|in|of|news|articles|stories|posts)\b.*)?",
    r"you (are here|might also like|may also like).*",
    r"(more|latest|popular) (news|articles|stories)",
    r"(©|\(c\)|copyright ©|copyright \d{4}).*",
    r"all rights reserved\.?",
    r"advertisement|sponsored",
    r"(was this page helpful|is this page useful)\??( yes,? no)?",
]
_BANNER_PATTERNS = [
    r"(we|this (web)?site|our (web)?site) uses? (essential |small files called )?cookies\b",
    r"by (continuing to use|using) (this|our) (web)?site,? you (agree|consent)",
    r"you are using an? (outdated|old|unsupported) browser",
    r"(your|this) browser is (out of date|outdated|not supported)",
    r"(please )?(enable|turn on) javascript",
]
_SHORT = re.compile("|".join(f"(?:{p})" for p in _SHORT_PATTERNS), re.IGNORECASE)
_BANNER = re.compile("|".join(f"(?:{p})" for p in _BANNER_PATTERNS), re.IGNORECASE)

_LEADING_MARKS = re.compile(r"^(#{1,6}\s+|[-*+•·>]\s+|\d+[.)]\s+)+")
_TRAILING_MARKS = re.compile(r"[\s.!:;,?|>»›→…]+$")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"(?:https?://|www\.)\S+")
_NAV_SEPARATORS = re.compile(r"\s+[|•·]\s+|\s+[|•·]$|^[|•·]\s+")
_CRUMB_SEPARATORS = re.compile(r"\s+[>›»/]\s+")


def _normalise(line: str) -> str:
    """The line as a pattern sees it: no bullets, heading marks, link syntax or trailing arrows."""
    text = _LEADING_MARKS.sub("", _MD_LINK.sub(r"\1", line).strip())
    return _TRAILING_MARKS.sub("", text).strip(" []")


def _is_navigation(line: str) -> bool:
    """A menu bar ("Home | About | News | Contact") or a breadcrumb ("Home > News > Title")."""
    if line.startswith("|"):  # Markdown table rows are content
        return False
    items = [item.strip() for item in _NAV_SEPARATORS.split(line) if item.strip()]
    if len(items) >= 3 and all(len(item.split()) <= 4 for item in items):
        return sum(any(ch.isdigit() for ch in item) for item in items) <= 1  # digits suggest a table row
    crumbs = [item.strip() for item in _CRUMB_SEPARATORS.split(line) if item.strip()]
    first = re.sub(r"^you are here:?\s*", "", crumbs[0], flags=re.IGNORECASE).lower() if crumbs else ""
    return len(crumbs) >= 2 and first in {"home", "homepage", "home page"} and len(line.split()) <= 25


def _is_link_list(line: str) -> bool:
    """Two or more links with nothing but separators between them."""
    links = _MD_LINK.findall(line) + _URL.findall(line)
    rest = _URL.sub("", _MD_LINK.sub("", line))
    return len(links) >= 2 and not re.search(r"\w", rest)


def is_boilerplate(line: str) -> bool:
    """True when a single line is page furniture rather than article text."""
    stripped = line.strip()
    if not stripped:
        return False
    text = _normalise(stripped)
    if not text:
        return not re.search(r"\w", stripped)  # lines of only bullets or separators
    words = len(text.split())
    if words <= MAX_FURNITURE_WORDS and _SHORT.fullmatch(text):
        return True
    if words <= MAX_BANNER_WORDS and _BANNER.match(text):
        return True
    return _is_navigation(stripped) or _is_link_list(stripped)


def strip_boilerplate(text: str) -> str:
    """Drop furniture lines, trim trailing spaces and collapse runs of blank lines to one."""
    kept = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    kept = [line for line in kept if not is_boilerplate(line)]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


_HEADING_LIKE = re.compile(r"^[A-Z0-9][^.!?;]*[^.!?:;,\s]$")
# A section number in front of a heading ("3.", "3.4", "2.1.3"): its dots are not sentence ends.
_SECTION_NUMBER = re.compile(r"^(\d{1,3}(?:\.\d{1,3})*)\.?\s+(?=\S)")
# A line ending in a sum or a share is a table row or a figure ("Contingency £135,000"), not a title.
_ENDS_IN_AMOUNT = re.compile(r"(?:[£$€]\s?\d[\d,.]*(?:\s?(?:k|m|bn|million|billion))?|\d%)$", re.IGNORECASE)


def heading_like(line: str) -> bool:
    """A short line without closing punctuation that opens with a capital or a section number."""
    number = _SECTION_NUMBER.match(line)
    rest = line[number.end() :] if number else line
    words = rest.split()
    return (
        1 <= len(words) <= 12
        and bool(_HEADING_LIKE.match(rest))
        and not (number and rest[:1].isdigit())  # "2024 25" or "3 4" are figures, not titles
        and not line.startswith(("|", "-", "*"))
        and not _ENDS_IN_AMOUNT.search(rest)
    )


def _section_depth(line: str) -> int:
    """How many parts the line's section number has (0 without one): "3." is 1, "3.4" is 2."""
    number = _SECTION_NUMBER.match(line)
    return number.group(1).count(".") + 1 if number else 0


def _paragraph_like(line: str) -> bool:
    return len(line.split()) >= 12 or line.rstrip().endswith((".", "!", "?", ":"))


# A "Label: value" line: a short capitalised label, a colon, then the value on the same line.
_FIELD = re.compile(r"^[A-Z][^:]{0,30}:\s+\S")


def promote_headings(text: str) -> str:
    """Turn plain-text headings (saved pages, PDFs) into Markdown headings the chunker splits on.

    A heading is a short line without closing punctuation that introduces a paragraph and does not sit
    inside a run of three or more short lines (a list), nor is a "Label: value" line beside another
    (the fields of an advert or a form: "Salary: …", "Hours: …"); lines already marked up are left alone. A
    section number in front ("3.4 Deficits and reserves") is part of the heading, unless a neighbouring
    line is a short one numbered at the same depth, which makes the lines a numbered list. Left unmarked, a
    heading is glued by the sentence splitter onto the first sentence of its section.
    """
    lines = [ln.strip() for ln in text.split("\n")]
    out: list[str] = []
    run = 0  # consecutive short, unpunctuated lines so far (blank lines end a run)
    for n, line in enumerate(lines):
        following = next((ln for ln in lines[n + 1 :] if ln), "")
        before = next((ln for ln in reversed(lines[:n]) if ln), "")
        heading = bool(line) and not line.startswith("#") and heading_like(line)
        depth = _section_depth(line)
        neighbours = [ln for ln in (before, following) if heading_like(ln)]
        if heading and depth and depth in map(_section_depth, neighbours):
            heading = False  # "1. Call the duty doctor" next to "2. …" is a numbered list, not a section
        if heading and _FIELD.match(line) and any(_FIELD.match(ln) for ln in (before, following)):
            heading = False  # "Salary: £48,000" above "Hours: 37.5 a week" is a field, its value a fact
        run = run + 1 if heading else 0
        if heading and _paragraph_like(following) and run <= 2:
            out.extend(["", f"## {line}", ""])
        else:
            out.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


_STRONG_STAR = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_STRONG_UNDERSCORE = re.compile(r"(?<![\w_])__(?=[^\s_])(.+?)(?<=[^\s_])__(?![\w_])")
_EM_STAR = re.compile(r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])")
_EM_UNDERSCORE = re.compile(r"(?<![\w_])_(?=[^\s_])(.+?)(?<=[^\s_])_(?![\w_])")


def plain_emphasis(text: str) -> str:
    """Markdown bold and italics without their markers: "**Venue:** Kingsmere House" is stored and
    quoted as "Venue: Kingsmere House". The markers are markup, not words; left in, they reach answers
    as stray asterisks. A list bullet ("* item") and underscores inside or at the start of a word
    ("window.__name", "snake_case") stay as they are, as CommonMark reads them."""
    text = _STRONG_STAR.sub(r"\1", text)
    text = _STRONG_UNDERSCORE.sub(r"\1", text)
    text = _EM_STAR.sub(r"\1", text)
    return _EM_UNDERSCORE.sub(r"\1", text)
