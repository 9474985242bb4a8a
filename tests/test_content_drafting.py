"""Prompts, draft parsing and sanitizing, slugs, and the offline writer stand-in (no database)."""

from __future__ import annotations

import json

import pytest

from allixios.content import drafting
from allixios.content.drafting import DraftBrief, build_draft_messages, parse_draft, sanitize_markdown
from allixios.content.offline_writer import respond
from allixios.content.slugs import slugify
from allixios.errors import ConfigError
from allixios.sample import SAMPLE_NICHES

VALID = {
    "title": "Growing Tomatoes in Containers",
    "meta_title": "Container Tomatoes: A Simple Guide",
    "meta_description": "How to grow container tomatoes.",
    "slug": "container-tomatoes",
    "excerpt": "Grow tomatoes anywhere.",
    "body": "Intro paragraph.\n\n## Pots\n\nUse big pots.",
    "tags": ["Tomatoes", "containers", "tomatoes"],
    "primary_keyphrase": "Container Tomatoes",
}


def test_parse_valid_draft_in_fences_and_prose():
    for text in (json.dumps(VALID), f"```json\n{json.dumps(VALID)}\n```", f"Here you go:\n{json.dumps(VALID)}\nEnjoy!"):
        d = parse_draft(text)
        assert d.title == VALID["title"] and d.slug == "container-tomatoes"
        assert d.tags == ("tomatoes", "containers")
        assert d.primary_keyphrase == "container tomatoes"
        assert d.article_fields()["content"] == VALID["body"]


@pytest.mark.parametrize(
    "text,message",
    [
        ("", "no text"),
        ("Sorry, I cannot help with that.", "no JSON object"),
        ('{"title": "x", "body": ', "not valid JSON"),
        ('{"title": "x", "body": "y", "meta_title": "m"', "not valid JSON"),
        ("[1, 2]", "no JSON object"),
        (json.dumps({k: v for k, v in VALID.items() if k != "body"}), "missing body"),
        (json.dumps(VALID | {"tags": "a, b"}), "tags are not a list"),
        (json.dumps(VALID | {"title": "t" * 301}), "at most 300"),
        (json.dumps(VALID | {"title": 7}), "not a string"),
        (json.dumps(VALID | {"body": "<script>alert(1)</script>"}), "body is empty after removing HTML"),
    ],
)
def test_parse_rejects_malformed_drafts(text, message):
    with pytest.raises(ValueError, match=message):
        parse_draft(text)


def test_missing_optional_fields_are_derived():
    d = parse_draft(json.dumps({k: VALID[k] for k in drafting.REQUIRED}), default_keyphrase="tomatoes")
    assert d.slug == "growing-tomatoes-in-containers"
    assert d.excerpt == "Intro paragraph."
    assert d.primary_keyphrase == "tomatoes" and d.tags == ()


@pytest.mark.parametrize(
    "dirty",
    [
        "Hi <script>alert(1)</script>there",
        "Hi <SCRIPT type='text/javascript'>document.cookie</SCRIPT>there",
        "Hi <scr<script>x</script>ipt>alert(1)</script>there",
        "Hi <script src=//evil.example/x.js>there",
        "Hi <img src=x onerror=alert(1)>there",
        "Hi <iframe src='//evil'></iframe>there <!-- <script> -->",
    ],
)
def test_sanitizer_never_keeps_a_tag(dirty):
    clean = sanitize_markdown(dirty)
    # the one sanitiser (markup.py, nh3 allow-list): harmless tags such as <img src> may stay
    assert "<script" not in clean.lower() and "onerror" not in clean.lower() and "<iframe" not in clean.lower()
    assert "<" not in clean.replace("&lt;", "").replace('<img src="x">', "")
    assert clean.startswith("Hi")


def test_sanitizer_keeps_text_and_markdown_and_neutralises_links():
    assert sanitize_markdown("<p>Keep <b>this</b> text</p>") == "<p>Keep <b>this</b> text</p>"
    assert sanitize_markdown("a < b and 3 > 2") == "a < b and 3 > 2"
    assert sanitize_markdown("[x](javascript:alert(1)) [y](/ok)") == "[x](#unsafe-link-alert(1)) [y](/ok)"
    assert sanitize_markdown("## Head\n\n- item") == "## Head\n\n- item"
    draft = parse_draft(json.dumps(VALID | {"title": "Tomatoes <script>alert('x')</script>in Pots",
                                            "body": "Text <style>p{}</style><em>here</em>."}))
    assert draft.title == "Tomatoes in Pots" and draft.body == "Text <em>here</em>."


def test_slugify():
    assert slugify("Índex Funds: 101!") == "index-funds-101"
    assert slugify("<script>") == "script"
    assert slugify("!!!") == "article"
    assert len(slugify("word " * 40)) <= 80 and not slugify("word " * 40).endswith("-")


def test_prompt_messages_carry_the_brief_and_version():
    brief = DraftBrief("Index Funds Explained", "index funds", ("investing",), "Personal Finance",
                       internal_links=({"slug": "credit-score", "title": "Credit Score"},))
    messages, version = build_draft_messages(brief)
    assert version == "draft_v1" and [m["role"] for m in messages] == ["system", "user"]
    assert "Personal Finance" in messages[0]["content"] and "/credit-score" in messages[1]["content"]
    sent = json.loads(messages[1]["content"].split("BRIEF_JSON:", 1)[1])
    assert sent["keyphrase"] == "index funds" and "previous_body" not in sent
    revision = DraftBrief("Index Funds Explained", "index funds", previous={"body": "old text"},
                          failing_assessments=({"id": "text_length", "detail": "too short"},), revision=1)
    messages, version = build_draft_messages(revision)
    assert version == "revise_v1" and "text_length: too short" in messages[1]["content"]
    assert "old text" in messages[1]["content"]
    with pytest.raises(ConfigError, match="no prompt template"):
        drafting.load_prompt("draft_v99")


def _draft_for(title: str, kp: str, niche: str, **extra):
    brief = DraftBrief(title, kp, (kp,), niche, **extra)
    messages, _ = build_draft_messages(brief)
    return parse_draft(respond(messages))


def test_offline_writer_is_deterministic_and_varied():
    a = _draft_for("Composting at Home Without the Smell", "composting at home", "Home Gardening")
    b = _draft_for("Composting at Home Without the Smell", "composting at home", "Home Gardening")
    c = _draft_for("Growing Tomatoes in Containers", "container tomatoes", "Home Gardening")
    assert a == b
    assert a.body != c.body
    assert "## " in a.body and a.primary_keyphrase == "composting at home"


def test_offline_writer_knows_nothing_about_the_scorer():
    """The stand-in imports no scoring code: whether its drafts pass is the scorer's verdict alone."""
    import ast
    import inspect

    from allixios.content import offline_writer

    tree = ast.parse(inspect.getsource(offline_writer))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    # the stand-in translator answers translation prompts; it imports only the standard library too
    assert imported <= {"__future__", "hashlib", "json", "random", "re", "allixios.content.slugs",
                        "allixios.content.standin_translator"}, imported
    from allixios.content import standin_translator

    tree = ast.parse(inspect.getsource(standin_translator))
    assert {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} <= {"__future__"}


def test_standin_flaws_are_properties_of_the_text_and_seeded():
    from allixios.content.offline_writer import choose_flaws

    seen: dict[str, list] = {}
    for spec in SAMPLE_NICHES.values():
        for title, kp, _ in spec["topics"]:
            brief = DraftBrief(title, kp, (kp,), spec["name"])
            flaws = choose_flaws(brief.as_json())
            assert flaws == choose_flaws(brief.as_json())
            draft = _draft_for(title, kp, spec["name"])
            for flaw in flaws:
                seen.setdefault(flaw, []).append(draft)
            assert ("## " in draft.body) == ("no_subheadings" not in flaws)
            assert ("![" in draft.body) == (not {"no_images", "too_short"} & flaws)
            assert ("](http" in draft.body) == ("no_links" not in flaws)
            words = len(draft.body.split())
            assert (words < 300) == ("too_short" in flaws), (title, words, flaws)
    assert len(seen) >= 3  # the sample topics show several kinds of flaw


def test_offline_researcher_expands_seed_keywords():
    messages, version = drafting.build_research_messages("Home Gardening", ["raised beds", "composting"], 4,
                                                         ["Raised Beds on a Budget"], "2026-11-05")
    ideas = drafting.parse_research(respond(messages))
    assert version == "research_v1" and len(ideas) == 4
    assert all(i.title and i.keyphrase and i.keywords for i in ideas)
    assert "Raised Beds on a Budget" not in [i.title for i in ideas]
    assert ideas == drafting.parse_research(respond(messages))


def test_offline_writer_needs_a_brief():
    with pytest.raises(ValueError, match="BRIEF_JSON"):
        respond([{"role": "user", "content": "write something"}])
