"""Article bodies for the site: the shared CommonMark parse, site-specific token edits, then nh3.

The Markdown goes through ``allixios.content.markup`` (its parser and, last, ``clean_html``); this
module only edits the token stream in between: internal links point at their target's current
URL (a link to a deleted or unknown article becomes plain text and a warning), and site images get
their media-library file, width, height, ``srcset``/``sizes`` and lazy loading.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from markdown_it.token import Token

from allixios.content import markup

SIZES = "(max-width: 760px) 100vw, 720px"


@dataclass
class RenderedBody:
    html: str
    links: list[str] = field(default_factory=list)  # internal link keys as written, for incremental builds
    warnings: list[str] = field(default_factory=list)


def link_key(href: str) -> str | None:
    """The site-relative path of an internal link ('/a/b/' for '/a/b#x'), None for anything else."""
    if not href.startswith("/") or href.startswith("//"):
        return None
    path = urlsplit(href).path
    return path if path.endswith("/") else path + "/"


def srcset(media: dict) -> str:
    return ", ".join(f"{v['path']} {v['width']}w" for v in media["variants"])


def render_body(markdown: str, resolve: Callable[[str], str | None], media: dict[str, dict],
                where: str = "") -> RenderedBody:
    """HTML of an article body; ``resolve(key)`` gives an internal link's current path or None."""
    md = markup.parser()
    tokens = markup.parse(markdown)
    out = RenderedBody("")
    for token in tokens:
        if token.type != "inline" or not token.children:
            continue
        dropped: list[bool] = []  # one entry per open link: was it turned into text?
        for child in token.children:
            if child.type == "link_open":
                href = str(child.attrGet("href") or "")
                key = link_key(href)
                if key is None:
                    dropped.append(False)
                    continue
                out.links.append(key)
                target = resolve(key)
                if target is None:
                    out.warnings.append(f"{where}: link to {href} goes to no live article; shown as plain text "
                                        "— fix: link to a published article or remove the link")
                    child.type, child.tag, child.content, child.attrs = "text", "", "", {}
                    dropped.append(True)
                else:
                    fragment = urlsplit(href).fragment
                    child.attrSet("href", target + (f"#{fragment}" if fragment else ""))
                    dropped.append(False)
            elif child.type == "link_close":
                if dropped and dropped.pop():
                    child.type, child.tag, child.content = "text", "", ""
            elif child.type == "image":
                src = str(child.attrGet("src") or "")
                if not src.startswith("/") or src.startswith("//"):
                    continue
                item = media.get(src)
                if item is None:
                    out.warnings.append(f"{where}: image {src} is not in the media library; left out "
                                        "— fix: add it to the media folder and rebuild")
                    child.type, child.tag, child.content, child.children = "text", "", "", None
                    continue
                child.attrSet("src", item["public_path"])
                child.attrSet("width", str(item["width"]))
                child.attrSet("height", str(item["height"]))
                if item["variants"]:
                    child.attrSet("srcset", srcset(item))
                    child.attrSet("sizes", SIZES)
                child.attrSet("loading", "lazy")
                child.attrSet("decoding", "async")
                if not child.content and item["alt_text"]:
                    child.children = [Token("text", "", 0, content=item["alt_text"])]
    out.html = markup.clean_html(md.renderer.render(tokens, md.options, {}))
    return out
