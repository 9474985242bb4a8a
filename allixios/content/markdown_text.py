"""Read the structure of a Markdown article body: headings, paragraphs, lists, links, images.

Only what the assessments need: ATX headings (``#``..``######``), prose paragraphs, list items,
tables, ``[text](url)`` links and ``![alt](src)`` images. Raw ``<a>``/``<img>``/``<h1>`` tags are
recognised too, so imported HTML-ish bodies score sensibly. Code blocks are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_FENCE = re.compile(r"^(```|~~~).*?^\1\s*$", re.S | re.M)
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_ATX = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_HTML_HEADING = re.compile(r"<h([1-6])[^>]*>(.*?)</h\1\s*>", re.I | re.S)
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+(.*)$")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\(\s*([^)\s]*)(?:\s+\"[^\"]*\")?\s*\)")
_MD_LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(\s*([^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
_HTML_IMG = re.compile(r"<img\b([^>]*)>", re.I)
_HTML_A = re.compile(r"<a\b([^>]*)>(.*?)</a\s*>", re.I | re.S)
_ATTR = re.compile(r"([a-zA-Z-]+)\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>]+)")
_TAG = re.compile(r"<[^>]+>")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`|~~)")


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Link:
    text: str
    url: str
    nofollow: bool = False

    @property
    def is_internal(self) -> bool:
        """Relative paths and fragments point inside the site; absolute http(s) URLs point out."""
        return not re.match(r"^[a-z][a-z0-9+.-]*:", self.url, re.I) and not self.url.startswith("//")


@dataclass(frozen=True)
class Image:
    alt: str
    src: str


@dataclass
class Block:
    """A paragraph, list or table; ``text`` is plain text with inline Markdown removed."""

    kind: str  # paragraph | list | table
    text: str
    items: list[str] = field(default_factory=list)  # list items / table rows as plain text


@dataclass
class Section:
    """Text under one subheading (or before the first one)."""

    heading: Heading | None
    blocks: list[Block] = field(default_factory=list)


@dataclass
class MarkdownDoc:
    headings: list[Heading]
    sections: list[Section]
    links: list[Link]
    images: list[Image]

    @property
    def blocks(self) -> list[Block]:
        return [b for s in self.sections for b in s.blocks]

    @property
    def paragraphs(self) -> list[Block]:
        return [b for b in self.blocks if b.kind == "paragraph"]


def _attrs(raw: str) -> dict[str, str]:
    return {k.lower(): v.strip("\"'") for k, v in _ATTR.findall(raw)}


def plain_text(markdown_inline: str) -> str:
    """Inline Markdown/HTML to the words a reader sees (link text kept, images dropped)."""
    text = _MD_IMAGE.sub(" ", markdown_inline)
    text = _MD_LINK.sub(lambda m: m.group(1), text)
    text = _HTML_A.sub(lambda m: m.group(2), text)
    text = _TAG.sub(" ", text)
    text = _EMPHASIS.sub("", text)
    return " ".join(text.split())


def _links_and_images(body: str) -> tuple[list[Link], list[Image]]:
    images = [Image(alt.strip(), src) for alt, src in _MD_IMAGE.findall(body)]
    for raw in _HTML_IMG.findall(body):
        a = _attrs(raw)
        images.append(Image(a.get("alt", "").strip(), a.get("src", "")))
    links = [Link(plain_text(text), url) for text, url in _MD_LINK.findall(body)]
    for raw, text in _HTML_A.findall(body):
        a = _attrs(raw)
        links.append(Link(plain_text(text), a.get("href", ""), "nofollow" in a.get("rel", "").lower()))
    return links, images


def parse_markdown(body: str) -> MarkdownDoc:
    body = _COMMENT.sub("", _FENCE.sub("", body or ""))
    links, images = _links_and_images(body)
    # HTML headings become ATX lines so one code path handles both
    body = _HTML_HEADING.sub(lambda m: f"\n{'#' * int(m.group(1))} {plain_text(m.group(2))}\n", body)

    headings: list[Heading] = []
    sections = [Section(None)]
    pending: list[str] = []

    def flush() -> None:
        if pending:
            sections[-1].blocks.extend(_blocks(pending))
            pending.clear()

    for line in body.splitlines():
        m = _ATX.match(line)
        if m:
            flush()
            heading = Heading(len(m.group(1)), plain_text(m.group(2)))
            headings.append(heading)
            if heading.level >= 2:
                sections.append(Section(heading))
            continue
        if not line.strip():
            flush()
            continue
        pending.append(line)
    flush()
    if sections[0].heading is None and not sections[0].blocks and len(sections) > 1:
        sections.pop(0)
    return MarkdownDoc(headings, sections, links, images)


def _blocks(lines: list[str]) -> list[Block]:
    """Split a run of non-blank lines into paragraph / list / table blocks."""
    out: list[Block] = []
    kind: str | None = None
    items: list[str] = []

    def close() -> None:
        nonlocal kind
        if kind == "paragraph":
            text = plain_text(" ".join(items))
            if text:
                out.append(Block("paragraph", text))
        elif kind in ("list", "table"):
            texts = [t for t in (plain_text(i) for i in items) if t]
            if texts:
                out.append(Block(kind, " ".join(texts), texts))
        kind, items[:] = None, []

    for line in lines:
        if _TABLE_ROW.match(line) or (kind == "table" and _TABLE_RULE.match(line)):
            if kind != "table":
                close()
                kind = "table"
            if not _TABLE_RULE.match(line):
                items.append(" ".join(c.strip() for c in line.strip().strip("|").split("|")))
            continue
        m = _LIST_ITEM.match(line)
        if m:
            if kind != "list":
                close()
                kind = "list"
            items.append(m.group(1))
            continue
        if kind == "list" and line.startswith((" ", "\t")):
            items[-1] += " " + line.strip()  # continuation of a list item
            continue
        if kind != "paragraph":
            close()
            kind = "paragraph"
        items.append(line.strip())
    close()
    return out
