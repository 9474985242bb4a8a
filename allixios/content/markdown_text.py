"""The document model of a Markdown article body, read from the one CommonMark parse.

``parse_markdown`` walks markdown-it's token stream (``markup.parse``, the same parse the site
renderer and the sanitiser use) and keeps what the assessments and link extraction need:

- headings (ATX and setext, and raw ``<h1>``–``<h6>``), with plain text;
- prose blocks: paragraphs, list items (one block per list, one item per list item) and tables;
- blockquotes, kept apart from prose: quoted words are not the author's sentences;
- links: inline, reference-style, autolinks and raw ``<a href>``, with ``rel="nofollow"``;
- images: ``![alt](src)`` and raw ``<img>`` only — never text that merely looks like a tag.

Code blocks, fenced code and inline code are not prose (they count neither as words nor as
sentences, and an ``<img>`` inside inline code is text, not an image). Entities are decoded by the
parser (``&amp;`` is ``&``). Raw HTML is read with the standard library's HTML tokenizer, never
with patterns over text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

from allixios.content.markup import parse


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
        """Relative paths and fragments point inside the site (without knowing the site's host)."""
        return self.internal_to(None)

    def internal_to(self, site_host: str | None) -> bool:
        """Internal when relative, or absolute to ``site_host`` (``www.`` and port ignored)."""
        url = self.url.strip()
        parts = urlsplit(url)
        if not parts.scheme and not url.startswith("//"):
            return True
        if parts.scheme.lower() not in ("http", "https", "") or not site_host:
            return False
        return _host(parts.hostname or "") == _host(site_host)

    @property
    def is_web(self) -> bool:
        """An absolute http(s) (or protocol-relative) link: a candidate outbound link."""
        return urlsplit(self.url.strip()).scheme.lower() in ("http", "https") or self.url.startswith("//")


def _host(host: str) -> str:
    host = host.lower().split(":")[0]
    if "//" in host:
        host = urlsplit(host).hostname or ""
    return host[4:] if host.startswith("www.") else host


@dataclass(frozen=True)
class Image:
    alt: str
    src: str


@dataclass
class Block:
    """A paragraph, list, table or blockquote; ``text`` is plain text with inline markup removed."""

    kind: str  # paragraph | list | table | blockquote
    text: str
    items: list[str] = field(default_factory=list)  # list items / table cells as plain text


@dataclass
class Section:
    """Text under one subheading (or before the first one)."""

    heading: Heading | None
    blocks: list[Block] = field(default_factory=list)


@dataclass(frozen=True)
class Unit:
    """One piece of text a reader reads on its own, in document order: the units sentences come from."""

    kind: str  # heading | paragraph | item | cell
    text: str
    with_code: str = ""  # the same text with its inline code kept (empty: same as ``text``)


@dataclass
class MarkdownDoc:
    headings: list[Heading]
    sections: list[Section]
    links: list[Link]
    images: list[Image]
    units: list[Unit] = field(default_factory=list)  # headings, paragraphs, list items, table cells
    code_units: int = 0  # paragraphs and items made only of inline code (no prose words)
    table_shapes: list[tuple[int, int]] = field(default_factory=list)  # (rows with the header, columns)
    closed_markup_units: int = 0  # paragraphs and items whose last sentence ends inside *…*, **…** or a link

    @property
    def blocks(self) -> list[Block]:
        """Prose blocks (paragraphs, lists, tables); blockquotes are left out."""
        return [b for s in self.sections for b in s.blocks if b.kind != "blockquote"]

    @property
    def paragraphs(self) -> list[Block]:
        return [b for b in self.blocks if b.kind == "paragraph"]

    @property
    def quotes(self) -> list[Block]:
        return [b for s in self.sections for b in s.blocks if b.kind == "blockquote"]


# -- raw HTML -----------------------------------------------------------------------------------

_VOID = frozenset("area base br col embed hr img input link meta source track wbr".split())
_SKIP = frozenset("script style code pre kbd samp textarea template svg math".split())  # not prose
_BLOCKS = frozenset("p div li h1 h2 h3 h4 h5 h6 blockquote tr table ul ol section article".split())


class _HtmlReader(HTMLParser):
    """Links, images, headings and text of a raw HTML fragment (an ``html_block``)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[Link] = []
        self.images: list[Image] = []
        self.chunks: list[tuple[str, str]] = []  # (kind, text): kind is "p", "quote" or "h1".."h6"
        self._stack: list[str] = []
        self._text: list[str] = []
        self._link: tuple[str, bool, list[str]] | None = None

    def _flush(self) -> None:
        text = " ".join("".join(self._text).split())
        if text:
            heading = next((t for t in reversed(self._stack) if t in ("h1", "h2", "h3", "h4", "h5", "h6")), None)
            kind = heading or ("quote" if "blockquote" in self._stack else "p")
            self.chunks.append((kind, text))
        self._text = []

    def handle_starttag(self, tag, attrs):
        a = {k.lower(): v or "" for k, v in attrs}
        if tag == "img":
            self.images.append(Image(a.get("alt", "").strip(), a.get("src", "")))
            return
        if tag == "br":
            self._text.append(" ")
            return
        if tag in _BLOCKS:
            self._flush()
        if tag == "a" and "href" in a:
            self._link = (a["href"], "nofollow" in a.get("rel", "").lower().split(), [])
        if tag not in _VOID:
            self._stack.append(tag)

    def handle_endtag(self, tag):
        if tag == "a" and self._link:
            href, nofollow, text = self._link
            self.links.append(Link(" ".join("".join(text).split()), href, nofollow))
            self._link = None
        if tag in _BLOCKS:
            self._flush()
        if tag in self._stack:
            while self._stack and self._stack.pop() != tag:
                pass

    def handle_data(self, data):
        if any(t in _SKIP for t in self._stack):
            return
        self._text.append(data)
        if self._link:
            self._link[2].append(data)

    def close(self):
        super().close()
        self._flush()


# -- inline content -----------------------------------------------------------------------------


class _Inline:
    """Plain text, links and images of one ``inline`` token's children."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.links: list[Link] = []
        self.images: list[Image] = []
        self._open: list[tuple[str, bool, list[str]]] = []  # links being read (Markdown or raw <a>)
        self.had_code = False
        self.full: list[str] = []  # the text with inline code kept

    def _text(self, s: str, code: str | None = None) -> None:
        self.parts.append(s)
        self.full.append(s if code is None else code)
        for _href, _nf, text in self._open:
            text.append(s)

    def _close_link(self) -> None:
        if self._open:
            href, nofollow, text = self._open.pop()
            self.links.append(Link(" ".join("".join(text).split()), href, nofollow))

    def read(self, children) -> _Inline:
        for c in children or ():
            t = c.type
            if t == "text":
                self._text(c.content)
            elif t in ("softbreak", "hardbreak"):
                self._text(" ")
            elif t == "code_inline":
                self.had_code = True
                self._text(" ", c.content)  # code is not prose: neither words nor part of a sentence
            elif t == "image":
                self.images.append(Image(_alt(c).strip(), str(c.attrGet("src") or "")))
            elif t == "link_open":
                self._open.append((str(c.attrGet("href") or ""), False, []))
            elif t == "link_close":
                self._close_link()
            elif t == "html_inline":
                self._html(c.content)
        while self._open:
            self._close_link()
        return self

    def _html(self, tag: str) -> None:
        reader = _TagReader()
        reader.feed(tag)
        reader.close()
        if reader.kind == "img":
            self.images.append(Image(reader.attrs.get("alt", "").strip(), reader.attrs.get("src", "")))
        elif reader.kind == "a" and reader.closing:
            self._close_link()
        elif reader.kind == "a" and "href" in reader.attrs:
            self._open.append((reader.attrs["href"], "nofollow" in reader.attrs.get("rel", "").lower().split(), []))
        elif reader.kind == "br":
            self._text(" ")

    @property
    def text(self) -> str:
        return " ".join("".join(self.parts).split())

    @property
    def text_with_code(self) -> str:
        return " ".join("".join(self.full).split())


class _TagReader(HTMLParser):
    """One inline tag (``<a href=…>``, ``</a>``, ``<img …>``) read by the HTML tokenizer."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.kind = ""
        self.closing = False
        self.attrs: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        self.kind, self.attrs = tag, {k.lower(): v or "" for k, v in attrs}

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        self.kind, self.closing = tag, True


def _alt(image_token) -> str:
    """An image's alt text: the plain text of its description (markdown-it keeps it as children)."""
    if image_token.children:
        return "".join(c.content for c in image_token.children if c.type in ("text", "code_inline"))
    return image_token.content or ""


def plain_text(markdown_inline: str) -> str:
    """Inline Markdown/HTML to the words a reader sees (link text kept, images and code dropped)."""
    out = []
    for token in parse(markdown_inline):
        if token.type == "inline":
            out.append(_Inline().read(token.children).text)
    return " ".join(" ".join(out).split())


# -- the walk -----------------------------------------------------------------------------------


def parse_markdown(body: str) -> MarkdownDoc:
    tokens = parse(body or "")
    headings: list[Heading] = []
    sections = [Section(None)]
    links: list[Link] = []
    images: list[Image] = []
    units: list[Unit] = []
    code_units = 0
    closed_markup_units = 0
    table_shapes: list[tuple[int, int]] = []
    columns = 0

    with_code = ""  # the current inline's text with its code, for the unit it becomes

    def unit(kind: str, text: str) -> None:
        if text or with_code:
            units.append(Unit(kind, text, with_code if with_code != text else ""))

    def heading(level: int, text: str) -> None:
        h = Heading(level, text)
        headings.append(h)
        unit("heading", text)
        if level >= 2:
            sections.append(Section(h))

    def add(kind: str, text: str, items: list[str] | None = None) -> None:
        if text:
            sections[-1].blocks.append(Block(kind, text, items or []))

    containers: list[str] = []  # open list / blockquote / table, innermost last
    list_items: list[list[str]] = []  # items of each open list
    item_text: list[list[str]] = []  # paragraphs of each open list item
    item_pos: list[int] = []  # where each open item goes in its list (before its nested items)
    rows: list[str] = []
    row: list[str] = []
    quote: list[str] = []
    pending_heading: int | None = None

    for tok in tokens:
        t = tok.type
        if t == "heading_open":
            pending_heading = int(tok.tag[1])
        elif t == "heading_close":
            pending_heading = None
        elif t in ("bullet_list_open", "ordered_list_open"):
            containers.append("list")
            list_items.append([])
        elif t in ("bullet_list_close", "ordered_list_close"):
            containers.pop()
            items = list_items.pop()
            if list_items and item_text:  # a nested list belongs to its parent item's list
                list_items[-1].extend(items)
            elif "blockquote" not in containers:
                add("list", " ".join(items), items)
            else:
                quote.extend(items)
        elif t == "list_item_open":
            item_text.append([])
            item_pos.append(len(list_items[-1]))
        elif t == "list_item_close":
            text, at = " ".join(item_text.pop()), item_pos.pop()
            if text:
                list_items[-1].insert(at, text)
        elif t == "blockquote_open":
            containers.append("blockquote")
        elif t == "blockquote_close":
            containers.pop()
            if "blockquote" not in containers and quote:
                add("blockquote", " ".join(quote), list(quote))
                quote = []
        elif t == "table_open":
            containers.append("table")
            rows = []
            if "blockquote" not in containers:
                table_shapes.append((0, 0))
        elif t == "table_close":
            containers.pop()
            add("table", " ".join(rows), rows)
        elif t == "tr_open":
            row = []
            columns = 0
        elif t in ("th_open", "td_open"):
            columns += 1
        elif t == "tr_close":
            rows.extend(c for c in row if c)
            if "blockquote" not in containers:
                table_shapes[-1] = (table_shapes[-1][0] + 1, max(table_shapes[-1][1], columns))
        elif t == "inline":
            inline = _Inline().read(tok.children)
            links.extend(inline.links)
            images.extend(inline.images)
            text = inline.text
            with_code = inline.text_with_code
            prose_unit = "blockquote" not in containers and pending_heading is None and (
                not containers or containers[-1] != "table")
            if inline.had_code and not text.strip(" ,.;:()") and prose_unit:
                code_units += 1
            if prose_unit and _ends_inside_markup(tok.children):
                closed_markup_units += 1
            if pending_heading is not None:
                heading(pending_heading, text)
            elif containers and containers[-1] == "table":
                row.append(text)
                if "blockquote" not in containers:
                    unit("cell", text)
            elif item_text and containers[-1] == "list":
                item_text[-1].append(text)
                if "blockquote" not in containers:
                    unit("item", text)
            elif "blockquote" in containers:
                quote.append(text)
            else:
                add("paragraph", text)
                unit("paragraph", text)
        elif t == "html_block":
            with_code = ""
            reader = _HtmlReader()
            reader.feed(tok.content)
            reader.close()
            links.extend(reader.links)
            images.extend(reader.images)
            for kind, text in reader.chunks:
                if kind.startswith("h"):
                    heading(int(kind[1]), text)
                elif kind == "quote" or "blockquote" in containers:
                    quote.append(text)
                elif item_text:
                    item_text[-1].append(text)
                    unit("item", text)
                else:
                    add("paragraph", text)
                    unit("paragraph", text)
        # fence, code_block, hr: not prose

    if sections[0].heading is None and not sections[0].blocks and len(sections) > 1:
        sections.pop(0)
    return MarkdownDoc(headings, sections, links, images, units, code_units, table_shapes, closed_markup_units)


def _ends_inside_markup(children) -> bool:
    """The unit's last sentence ends with its full stop inside emphasis or a link ("… *See the
    report.*"): yoastseo 3.6 counts one more (empty) sentence there in its passive-voice share."""
    closing = 0
    for c in reversed(children or ()):
        if c.type in ("em_close", "strong_close", "link_close", "s_close"):
            closing += 1
        elif c.type == "text" and not c.content.strip():
            continue
        else:
            return closing > 0 and c.type == "text" and c.content.rstrip().endswith(".")
    return False

