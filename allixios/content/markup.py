"""The one Markdown parse and the one sanitiser.

Every consumer of article text goes through here: the site renderer (``render_html``), stored
Markdown from drafts and edits (``sanitize_markdown``), one-line fields such as titles and meta
descriptions (``plain_line``) and any HTML that reaches a page (``clean_html``).

Parsing is CommonMark (markdown-it-py, with GFM tables and strikethrough); sanitising is nh3
(the Ammonia sanitiser) applied to parsed HTML, never patterns over text. markdown-it already
refuses ``javascript:``/``vbscript:``/``file:``/non-image ``data:`` link targets after decoding
entities, and nh3 enforces the same scheme allow-list on any raw HTML that gets through.
"""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache

import nh3

# What an article body may contain once rendered: prose, structure, links, images, tables, code.
ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "details", "dfn", "div",
    "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins",
    "kbd", "li", "mark", "ol", "p", "picture", "pre", "q", "s", "samp", "small", "source", "span", "strong",
    "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "u", "ul",
})
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "hreflang"},
    "img": {"src", "alt", "title", "width", "height", "loading", "decoding", "srcset", "sizes"},
    "source": {"srcset", "type", "sizes", "media"},
    "td": {"align", "colspan", "rowspan"},
    "th": {"align", "colspan", "rowspan", "scope"},
    "ol": {"start"},
    "time": {"datetime"},
    "code": {"class"},
    "abbr": {"title"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})

# Characters that change how text is displayed without being visible: bidi overrides and
# isolates (a right-to-left override can disguise a title), zero-width joiners, and C0/C1 controls.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@lru_cache(maxsize=1)
def parser():
    """CommonMark with raw HTML recognised (so it can be sanitised, not mis-read as text)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def parse(markdown: str) -> list:
    """markdown-it block tokens of ``markdown`` (inline tokens carry ``children``)."""
    return parser().parse(strip_invisible(markdown or ""))


def strip_invisible(text: str) -> str:
    return _INVISIBLE.sub("", text)


def clean_html(fragment: str) -> str:
    """``fragment`` with every tag, attribute and URL scheme outside the allow-lists removed."""
    return nh3.clean(
        fragment,
        tags=set(ALLOWED_TAGS),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=None,
        strip_comments=True,
    )


def render_html(markdown: str) -> str:
    """The article body as safe HTML: CommonMark render, then nh3 on the parsed result."""
    return clean_html(parser().render(strip_invisible(markdown or "")))


def plain_line(text: str) -> str:
    """A one-line field (title, meta description, tag) as plain text: no markup, no invisible
    characters, entities decoded, whitespace collapsed. Templates escape it on output."""
    stripped = nh3.clean(strip_invisible(text or ""), tags=set(), strip_comments=True)
    stripped = html.unescape(stripped)
    stripped = unicodedata.normalize("NFC", strip_invisible(stripped))
    return " ".join(stripped.split())


def sanitize_markdown(markdown: str) -> str:
    """Stored Markdown with its raw HTML made safe, located through the parse (not by patterns).

    Raw HTML blocks and inline tags are replaced by what nh3 keeps of them; Markdown itself is
    left as written (unsafe link targets are already refused by the parser when it renders).
    """
    text = strip_invisible(markdown or "").replace("\r\n", "\n")
    lines = text.split("\n")
    for token in parse(text):
        if token.map is None:
            continue
        start, end = token.map
        if token.type == "html_block":
            cleaned = clean_html("\n".join(lines[start:end]))
            lines[start:end] = [cleaned] + [None] * (end - start - 1)
        elif token.type == "inline" and any(c.type == "html_inline" for c in token.children or ()):
            source = "\n".join(line for line in lines[start:end] if line is not None)
            for child in token.children:
                if child.type == "html_inline":
                    source = source.replace(child.content, clean_html(child.content), 1)
            lines[start:end] = [source] + [None] * (end - start - 1)
    kept = "\n".join(line for line in lines if line is not None)
    return re.sub(r"\n{3,}", "\n\n", kept).strip()
