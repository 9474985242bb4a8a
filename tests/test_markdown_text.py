"""The document model is read from the CommonMark parse: each case the old regex reader got wrong."""

from __future__ import annotations

from allixios.content.markdown_text import Link, parse_markdown, plain_text
from allixios.content.scoring import ArticleDoc, score_article


def words_of(body: str) -> str:
    return " ".join(b.text for b in parse_markdown(body).blocks)


def test_fenced_and_indented_code_are_not_prose():
    body = "Real prose here.\n\n```python\nx = 'this is code not prose'\n```\n\n    indented code line\n"
    assert words_of(body) == "Real prose here."


def test_inline_code_is_not_words_and_an_img_inside_it_is_not_an_image():
    doc = parse_markdown("Use `<img src=\"x.png\">` and `make test` to check.")
    assert doc.images == []
    assert doc.paragraphs[0].text == "Use and to check."


def test_blockquotes_are_kept_apart_from_prose():
    doc = parse_markdown("My words.\n\n> Someone else's words, quoted.\n")
    assert [b.text for b in doc.blocks] == ["My words."]
    assert [b.text for b in doc.quotes] == ["Someone else's words, quoted."]


def test_setext_headings_are_headings():
    doc = parse_markdown("Title one\n=========\n\nText.\n\nPart two\n--------\n\nMore text.\n")
    assert [(h.level, h.text) for h in doc.headings] == [(1, "Title one"), (2, "Part two")]
    assert [s.heading.text if s.heading else None for s in doc.sections] == [None, "Part two"]


def test_reference_links_and_autolinks_are_links():
    doc = parse_markdown("See [the guide][g] and <https://example.org/x>.\n\n[g]: /guides/compost \"Guide\"\n")
    assert [(x.text, x.url) for x in doc.links] == [("the guide", "/guides/compost"),
                                                    ("https://example.org/x", "https://example.org/x")]


def test_entities_are_decoded():
    assert plain_text("Salt &amp; pepper &mdash; &#8220;fresh&#8221;") == "Salt & pepper — “fresh”"


def test_raw_html_links_images_and_headings():
    doc = parse_markdown('<h2>Raw heading</h2>\n\nText with <a href="https://x.test/" rel="nofollow sponsored">a '
                         'partner</a> and <img src="/p.png" alt="a pot">.\n')
    assert [(h.level, h.text) for h in doc.headings] == [(2, "Raw heading")]
    assert doc.links == [Link("a partner", "https://x.test/", True)]
    assert [(i.alt, i.src) for i in doc.images] == [("a pot", "/p.png")]


def test_list_items_keep_document_order_with_nested_lists():
    doc = parse_markdown("- one\n  - one a\n  - one b\n- two\n")
    assert doc.blocks[0].kind == "list"
    assert doc.blocks[0].items == ["one", "one a", "one b", "two"]


def test_absolute_links_to_the_own_site_are_internal_when_the_host_is_known():
    link = Link("ours", "https://www.example.com/guides/")
    assert not link.is_internal  # host unknown: an absolute URL cannot be told from an outbound one
    assert link.internal_to("example.com")
    assert not Link("theirs", "https://other.org/").internal_to("example.com")
    body = ("Text. " * 40) + "[ours](https://example.com/a) and [theirs](https://other.org/b)."
    report = score_article(ArticleDoc("A title of fine length", body, "text", slug="text",
                                      site_host="example.com")).by_id()
    assert report["internal_links"].detail == "1 internal link(s)"
    assert report["outbound_links"].detail == "1 outbound link(s)"


def test_images_count_only_real_image_tokens():
    doc = parse_markdown("Text ![a](/a.png) and `![b](/b.png)` and \\![c](/c.png)\n")
    assert [i.src for i in doc.images] == ["/a.png"]
