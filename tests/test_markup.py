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
