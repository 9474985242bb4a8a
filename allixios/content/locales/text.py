"""Prose out of a Markdown body (through the one parser, ``allixios.content.markup``): what the
language check reads and what per-locale readability counts."""

from __future__ import annotations

from allixios.content import markup


def prose_paragraphs(markdown: str) -> list[str]:
    """The text of every paragraph (list items included; headings, code and image alt text left out)."""
    out: list[str] = []
    in_paragraph = False
    for tok in markup.parse(markdown or ""):
        if tok.type == "paragraph_open":
            in_paragraph = True
        elif tok.type == "paragraph_close":
            in_paragraph = False
        elif tok.type == "inline" and in_paragraph:
            text = "".join(c.content for c in tok.children or () if c.type == "text")
            text = " ".join(text.split())
            if text:
                out.append(text)
    return out


def headings(markdown: str) -> list[str]:
    out, in_heading = [], False
    for tok in markup.parse(markdown or ""):
        if tok.type == "heading_open":
            in_heading = True
        elif tok.type == "heading_close":
            in_heading = False
        elif tok.type == "inline" and in_heading:
            out.append(" ".join(tok.content.split()))
    return out
