"""Heading-aware chunking: sections first, then sentence-bounded chunks of roughly 150-350 words.

Headings become a `section` path ("Funding > 2024/25") so a chunk can be cited precisely; small sections
are packed together so a chunk has enough context to retrieve well; long sections are cut on sentence
boundaries with one sentence of overlap so a fact on a boundary is never orphaned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from langchain_core.documents import Document
from langchain_text_splitters import MarkdownHeaderTextSplitter

from assistant.text import split_sentences, word_count

MIN_WORDS = 150
MAX_WORDS = 350
MIN_CHUNK_WORDS = 10
OVERLAP_SENTENCES = 1
# Lists of references duplicate the metadata and only pull retrieval towards publishers' names.
SKIPPED_SECTIONS = {"sources", "references", "further reading", "bibliography"}

_HEADERS = [("#", "h1"), ("##", "h2"), ("###", "h3"), ("####", "h4")]


@dataclass
class _Section:
    path: str
    sentences: list[str]

    @property
    def words(self) -> int:
        return sum(word_count(s) for s in self.sentences)


def _sections(doc: Document) -> list[_Section]:
    splitter = MarkdownHeaderTextSplitter(headers_to_split_on=_HEADERS, strip_headers=True)
    title = str(doc.metadata.get("title", ""))
    out: list[_Section] = []
    for part in splitter.split_text(doc.page_content):
        headings = [str(part.metadata[k]) for _, k in _HEADERS if part.metadata.get(k)]
        # A document's own title repeated as its H1 adds nothing to the path.
        if headings and headings[0] == title:
            headings = headings[1:]
        # A reference list's own subsections ("Sources > Online") are reference lists too.
        if any(h.strip().rstrip(":").strip().lower() in SKIPPED_SECTIONS for h in headings):
            continue
        # The splitter joins a section's paragraphs with "  \n" (a Markdown line break); put the blank
        # lines back, or `split_sentences` sees one block and takes each short paragraph for a sentence.
        sentences = split_sentences(part.page_content.replace("  \n", "\n\n"))
        if sentences:
            out.append(_Section(" > ".join(headings), sentences))
    return out


def _pack(sections: list[_Section]) -> list[_Section]:
    """Merge neighbouring small sections; split long ones on sentence boundaries."""
    packed: list[_Section] = []
    for section in sections:
        last = packed[-1] if packed else None
        if last and last.words < MIN_WORDS and last.words + section.words <= MAX_WORDS:
            paths = [p for p in (last.path, section.path) if p]
            last.path = "; ".join(dict.fromkeys(paths))
            last.sentences.extend(section.sentences)
            continue
        if section.words <= MAX_WORDS:
            packed.append(_Section(section.path, list(section.sentences)))
            continue
        current: list[str] = []
        for sentence in section.sentences:
            if current and sum(word_count(s) for s in current) + word_count(sentence) > MAX_WORDS:
                packed.append(_Section(section.path, current))
                current = current[-OVERLAP_SENTENCES:] if OVERLAP_SENTENCES else []
            current.append(sentence)
        if current:
            tail = sum(word_count(s) for s in current)
            prev = packed[-1] if packed else None
            if prev and prev.path == section.path and tail < MIN_WORDS // 2:
                # A stub tail: share the last two chunks' sentences out evenly instead of appending the
                # stub to a chunk that is already full (which could reach MAX_WORDS + MIN_WORDS / 2).
                packed[-1:] = _rebalance(section.path, prev.sentences + current[OVERLAP_SENTENCES:])
            else:
                packed.append(_Section(section.path, current))
    return packed


def _rebalance(path: str, sentences: list[str]) -> list[_Section]:
    """One chunk if the sentences fit in one, else two of about equal size sharing one sentence."""
    counts = [word_count(s) for s in sentences]
    total = sum(counts)
    if total <= MAX_WORDS or len(sentences) < 2:
        return [_Section(path, sentences)]
    best, best_size = 1, total
    for cut in range(1, len(sentences)):
        overlap = cut - OVERLAP_SENTENCES if OVERLAP_SENTENCES else cut
        size = max(sum(counts[:cut]), sum(counts[overlap:]))
        if size < best_size:
            best, best_size = cut, size
    start = best - OVERLAP_SENTENCES if OVERLAP_SENTENCES else best
    return [_Section(path, sentences[:best]), _Section(path, sentences[max(start, 1) :])]


# Punctuation the splitter reads on from or stops at, perhaps inside quotes or emphasis.
_CLOSED = re.compile(r"[.!?…:;,][\"'”’)\]*_]*$")


def join_sentences(sentences: list[str]) -> str:
    """A chunk's text from its sentences, so that `split_sentences` finds the same sentences in it.

    The index and the answers split the stored chunk text again. A sentence that ends in punctuation
    is followed by a space, as before; one that ends in none (a title, a list item, a table caption,
    a table row) is followed by a blank line, or the splitter would run it into the next sentence:
    "Document control Policy owner: …". A colon or semicolon keeps the space, so "You will: lead …;
    manage …" stays one sentence, as the splitter reads such a list in running text. Markup the
    splitter left on its own ("*") is dropped.
    """
    text = ""
    for sentence in sentences:
        if not re.search(r"\w", sentence):
            continue  # markup left over from the splitter ("*" of an italic paragraph) is no sentence
        if text:
            text += " " if _CLOSED.search(text) else "\n\n"
        text += sentence
    return text


def chunk_document(doc: Document) -> list[Document]:
    """Chunks of one loaded document, each carrying the document's metadata plus `section`/`chunk`."""
    chunks: list[Document] = []
    for section in _pack(_sections(doc)):
        text = join_sentences(section.sentences)
        if word_count(text) < MIN_CHUNK_WORDS:
            continue
        metadata = dict(doc.metadata)
        metadata["section"] = section.path
        metadata["chunk"] = len(chunks)
        chunks.append(Document(page_content=text, metadata=metadata))
    return chunks


def chunk_documents(docs: list[Document]) -> list[Document]:
    chunks: list[Document] = []
    for doc in docs:
        for chunk in chunk_document(doc):
            # PDF pages are separate documents of one file: number chunks across the whole file.
            chunk.metadata["chunk"] = len(chunks)
            chunks.append(chunk)
    return chunks
