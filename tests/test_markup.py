"""The one parse and the one sanitiser: hostile input in, nothing executable out."""

from allixios.content.markup import plain_line, render_html, sanitize_markdown


def test_render_refuses_scripts_handlers_and_encoded_schemes():
    body = (
        "# T\n\n[a](&#106;avascript:alert(1)) [b][1]\n\n[1]: javascript:alert(2)\n\n"
        "<script>alert(3)</script>\n\n<img src=a.jpg onerror=alert(4) alt=ok> <svg onload=x>t</svg>\n"
    )
    html = render_html(body)
    assert 'href="javascript' not in html.lower()  # refused targets stay as visible text, never a link
    for bad in ("<script", "onerror", "onload", "<svg", "alert(3)"):
        assert bad not in html.lower(), bad
    assert '<img src="a.jpg" alt="ok">' in html


def test_sanitize_markdown_keeps_markdown_and_code_spans():
    src = "# Hi\n\npara <img src=a.jpg onerror=alert(4) alt=ok> more\n\n<script>alert(3)</script>\n\n`<img src=x>` code"
    out = sanitize_markdown(src)
    assert "onerror" not in out and "<script" not in out
    assert "`<img src=x>` code" in out  # code is text, not markup
    assert out.startswith("# Hi")


def test_plain_line_drops_markup_and_invisible_characters():
    assert plain_line("<script>x</script>Ti\u202etle &amp; <b>bold</b>") == "Title & bold"


def test_the_parse_free_fast_paths_change_nothing():
    """sanitize_markdown skips a parse when it cannot find anything (issue 19): text with no "<" has
    no raw HTML, and text with no "](", "]:" or "<" has no link target. Random Markdown-heavy text
    checks both shortcuts against the parse they skip."""
    import random

    from allixios.content import markup

    rng = random.Random(19)
    pieces = ["[a]", "(b)", "](", "]", "[", ":", "]:", "javascript", "&#58;", "&colon;", "&#x3A;", "\\", "!", "*",
              "_", "`", "#", " ", "\n", "\n\n", "    ", "http://x.test", "mailto:a@b.test", "[ref]", "x", "-", "1.",
              ">", "&amp;", "&#106;", "data", "(", ")", '"t"', "'", "|", "~~"]
    checked_html = checked_links = 0
    for _ in range(1500):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 40)))
        assert "<" not in text
        assert markup._clean_raw_html(text) == text
        checked_html += 1
        if not markup._could_link(text):
            assert markup.unsafe_links(text) == []
            checked_links += 1
    assert checked_html == 1500 and checked_links > 100
    # and the shortcut is not taken when a target exists
    assert markup._could_link("[a](javascript:alert(1))") and markup._could_link("[r]: javascript:x")
    assert markup._could_link("<javascript:x>")


def test_plain_line_without_markup_characters_skips_nothing_nh3_would_change():
    """plain_line's shortcut (issue 19): a text with none of "<", ">", "&", CR or NUL comes back from
    nh3's parse and unescaping unchanged once invisible characters are stripped, so the parse is skipped. Random text of quotes, Unicode
    letters, combining marks, whitespace and invisible characters checks it against the parse."""
    import html
    import random

    import nh3

    from allixios.content import markup

    rng = random.Random(1919)
    pieces = ["a", "Z", "é", "e\u0301", "ß", "İ", "漢", "😀", "\u202e", "\u200b", "\ufeff", "\x07", "\t", "\n", " ",
              "\u00a0", "\u2028", '"', "'", "`", "=", "/", "!", "?", "#", ";", "amp", "lt;", "\u0085", "\x7f",
              "\ud7ff", "\U0001f600", "\u0308", "ﬁ", "Ⅻ", "--", "[x](y)", "*b*"]
    for _ in range(3000):
        # what plain_line hands to nh3: invisible characters already stripped (nh3 drops a leading BOM)
        text = markup.strip_invisible("".join(rng.choice(pieces) for _ in range(rng.randint(0, 30))))
        assert markup._MARKUP_CHARS.isdisjoint(text)
        assert html.unescape(nh3.clean(text, tags=set(), strip_comments=True)) == text, repr(text)
    # and markup still goes through the parse
    assert plain_line("a &lt;b&gt; c") == "a c" and plain_line("x\r\ny") == "x y"
