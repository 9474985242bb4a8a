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

# What can make a tag, comment or entity in a text (a NUL and a CR are rewritten by HTML parsing)
_MARKUP_CHARS = frozenset("<>&\r\x00")
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
    characters, entities decoded, whitespace collapsed. Templates escape it on output.

    Cleaning and decoding repeat until nothing changes, so markup hidden behind entities
    (``&lt;script&gt;``, or double-encoded) is removed too instead of being decoded into a tag."""
    current = strip_invisible(text or "")
    for _ in range(5):
        # without these characters there is no tag, comment or entity, and nh3's parse + unescape
        # give the text back unchanged (tests/test_markup.py checks it): skip the HTML parse, the
        # largest part of the draft validator's CPU on the generation hot path (issue 19)
        decoded = current if _MARKUP_CHARS.isdisjoint(current) else html.unescape(
            nh3.clean(current, tags=set(), strip_comments=True))
        decoded = unicodedata.normalize("NFC", strip_invisible(decoded))
        if decoded == current:
            break
        current = decoded
    return " ".join(current.split())


def sanitize_markdown(markdown: str) -> str:
    """Stored Markdown with its raw HTML made safe, located through the parse (not by patterns).

    Raw HTML blocks and inline tags are replaced by what nh3 keeps of them; Markdown itself is
    left as written (unsafe link targets are already refused by the parser when it renders).
    """
    text = strip_invisible(markdown or "").replace("\r\n", "\n")
    for _ in range(5 if "<" in text else 0):  # removing a tag can join its neighbours into a new one: repeat until stable
        # (no "<": markdown-it finds no raw HTML, every html_block / html_inline token starts with one,
        # so the parse is skipped; issue 19: it was half of the draft validator's CPU)
        cleaned = _clean_raw_html(text)
        if cleaned == text:
            break
        text = cleaned
    return re.sub(r"\n{3,}", "\n\n", _defuse_link_targets(text)).strip()


def _clean_raw_html(text: str) -> str:
    lines = text.split("\n")
    for token in parse(text):
        if token.map is None:
            continue
        start, end = token.map
        if token.type == "html_block":
            cleaned = clean_html("\n".join(lines[start:end]))
            lines[start:end] = [cleaned] + [None] * (end - start - 1)
        elif token.type == "inline" and any(c.type == "html_inline" for c in _flatten(token.children)):
            source = "\n".join(line for line in lines[start:end] if line is not None)
            lines[start:end] = [_clean_inline_html(source, token.children)] + [None] * (end - start - 1)
    return "\n".join(line for line in lines if line is not None)


# elements whose content is code, not text: dropped with everything up to their closing tag
_CODE_OPEN = re.compile(r"^<(script|style|iframe|noscript|template|textarea|xmp|noembed|noframes|svg|math|object)\b", re.I)


def _flatten(children) -> list:
    """Inline tokens in source order, including those nested in an image's alt text."""
    out = []
    for child in children or ():
        out.append(child)
        if child.children:
            out.extend(_flatten(child.children))
    return out


def _clean_inline_html(source: str, children: list) -> str:
    """``source`` (one paragraph) with each inline tag cleaned by nh3 and code elements dropped whole."""
    out: list[str] = []
    pos = 0
    items = list(_flatten(children))
    i = 0
    while i < len(items):
        child = items[i]
        i += 1
        if child.type != "html_inline":
            continue
        at = source.find(child.content, pos)
        if at < 0:
            continue
        out.append(source[pos:at])
        pos = at + len(child.content)
        opened = _CODE_OPEN.match(child.content)
        if opened and not child.content.rstrip().endswith("/>"):
            closing = re.compile(rf"^</{opened.group(1)}\s*>", re.I)
            for j in range(i, len(items)):  # skip to the element's closing tag (or drop the rest)
                if items[j].type == "html_inline" and closing.match(items[j].content):
                    end = source.find(items[j].content, pos)
                    pos = len(source) if end < 0 else end + len(items[j].content)
                    i = j + 1
                    break
            else:
                pos, i = len(source), len(items)
            continue
        out.append(_clean_tag(child.content))
    out.append(source[pos:])
    return "".join(out)


_CLOSING_TAG = re.compile(r"^</([A-Za-z][A-Za-z0-9]*)\s*>$")
_OPENING_TAG = re.compile(r"^<([A-Za-z][A-Za-z0-9]*)\b")


def _clean_tag(tag: str) -> str:
    """One inline tag through nh3. nh3 balances what it is given, so a lone opening tag comes back
    closed and a lone closing tag vanishes; both are put back as written (when allowed)."""
    closing = _CLOSING_TAG.match(tag)
    if closing:
        name = closing.group(1).lower()
        return f"</{name}>" if name in ALLOWED_TAGS else ""
    cleaned = clean_html(tag)
    opening = _OPENING_TAG.match(tag)
    if opening:
        suffix = f"</{opening.group(1).lower()}>"
        if cleaned.endswith(suffix):
            cleaned = cleaned[: -len(suffix)]
    return cleaned


# -- link targets in Markdown -----------------------------------------------------------------
# markdown-it refuses javascript:/vbscript:/file:/data: targets when it renders, but refused
# Markdown links stay in the stored text (``[1]: javascript:...``, ``[a](&#106;avascript:...)``)
# and another renderer might not refuse them. A permissive parse (every target accepted) finds
# each link, image, autolink and reference definition with its decoded target; the lines of the
# ones whose scheme is not allowed are rewritten so the scheme no longer reads as one.

SAFE_LINK_SCHEMES = frozenset({"http", "https", "mailto"})
_SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):", re.I)
_URL_IGNORED = re.compile(r"[\x00-\x20\x7f]")  # browsers drop these inside a URL's scheme
DEFUSED = "#unsafe-link-"


@lru_cache(maxsize=1)
def _permissive_parser():
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    md.validateLink = lambda url: True
    return md


def unsafe_scheme(url: str) -> str | None:
    """The scheme of ``url`` when it is not an allowed one (http, https, mailto), else None."""
    match = _SCHEME.match(_URL_IGNORED.sub("", html.unescape(url or "")))
    if match and match.group(1).lower() not in SAFE_LINK_SCHEMES:
        return match.group(1).lower()
    return None


def unsafe_links(markdown: str) -> list[tuple[str, tuple[int, int]]]:
    """(scheme, (first line, end line)) of every link target in ``markdown`` with a refused scheme."""
    env: dict = {}
    found: list[tuple[str, tuple[int, int]]] = []
    for token in _permissive_parser().parse(markdown, env):
        if token.type != "inline" or token.map is None:
            continue
        for child in token.children or ():
            if child.type in ("link_open", "image"):
                scheme = unsafe_scheme(str(child.attrs.get("href") or child.attrs.get("src") or ""))
                if scheme:
                    found.append((scheme, (token.map[0], token.map[1])))
    for ref in (env.get("references") or {}).values():
        scheme = unsafe_scheme(ref.get("href", ""))
        if scheme and ref.get("map"):
            found.append((scheme, (ref["map"][0], ref["map"][1])))
    return found


def _char_pattern(ch: str) -> str:
    """One character as written in Markdown: itself (any case), a numeric entity, or backslash-escaped."""
    code = ord(ch.lower())
    options = {re.escape(ch.lower()), re.escape(ch.upper())}
    return (f"(?:\\\\?(?:{'|'.join(sorted(options))})|&#0*{code};?|&#[xX]0*{code:x};?|&#[xX]0*{code:X};?)"
            "(?:[\\s\\x00-\\x1f]|&Tab;|&NewLine;|&#0*(?:9|10|13);?|&#[xX]0*[9aAdD];?)*")


@lru_cache(maxsize=64)
def _scheme_pattern(scheme: str) -> re.Pattern:
    colon = "(?::|&colon;|&#0*58;?|&#[xX]0*3[aA];?|\\\\:)"
    return re.compile("".join(_char_pattern(c) for c in scheme) + colon)


def _could_link(markdown: str) -> bool:
    """False only when ``markdown`` can hold no link target: an inline link or image needs "](",
    a reference definition "]:" and an autolink "<" (CommonMark allows nothing between them;
    escapes and entities cannot make these characters structural), so the parse can be skipped."""
    return "](" in markdown or "]:" in markdown or "<" in markdown


def _defuse_link_targets(markdown: str) -> str:
    if not _could_link(markdown):
        return markdown
    for _ in range(5):
        found = unsafe_links(markdown)
        if not found:
            return markdown
        lines = markdown.split("\n")
        for scheme, (start, end) in found:
            pattern = _scheme_pattern(scheme)
            for i in range(start, min(end, len(lines))):
                lines[i] = pattern.sub(DEFUSED, lines[i])
        markdown = "\n".join(lines)
    # a target the rewrite could not reach: drop the lines that hold it rather than keep it
    lines = markdown.split("\n")
    for _scheme, (start, end) in unsafe_links(markdown):
        for i in range(start, min(end, len(lines))):
            lines[i] = ""
    return "\n".join(lines)
