"""Quality and SEO scoring on hand-written fixture articles and on the thresholds of each assessment."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from allixios.content import readability as rd
from allixios.content.scoring import ASSESSMENTS, ArticleDoc, score_article, title_width_px

FIXTURES = Path(__file__).parent / "fixtures" / "articles"


def load(name: str) -> ArticleDoc:
    _, front, body = (FIXTURES / f"{name}.md").read_text().split("---", 2)
    meta = yaml.safe_load(front)
    return ArticleDoc(
        title=meta["title"],
        body=body.strip(),
        keyphrase=meta.get("keyphrase", ""),
        meta_title=meta.get("meta_title", ""),
        meta_description=meta.get("meta_description", ""),
        slug=meta.get("slug", ""),
    )


@pytest.fixture(scope="module")
def reports():
    return {n: score_article(load(n)) for n in ("good", "keyword_stuffed", "too_short", "wall_of_text", "no_headings")}


def scores(report) -> dict[str, int]:
    return {a.id: a.score for a in report.assessments}


def test_good_article_passes_every_assessment(reports):
    good = reports["good"]
    assert [a.id for a in good.failing()] == []
    assert good.seo >= 90 and good.quality >= 90
    assert good.body_chars >= 1000
    assert not [s for s in good.suggestions if s["priority"] == "high"]


def test_keyword_stuffed_article_is_penalised_for_density(reports):
    r = scores(reports["keyword_stuffed"])
    assert r["keyphrase_density"] == -50
    assert r["keyphrase_in_meta_description"] == 3  # four mentions
    assert r["seo_title_width"] == 3
    assert r["keyphrase_in_subheadings"] == 3  # every subheading: above 75%
    assert reports["keyword_stuffed"].seo < 50


def test_too_short_article_fails_length(reports):
    short = reports["too_short"]
    assert scores(short)["text_length"] == -20
    assert "keyphrase_density" not in scores(short)  # under 100 words: not assessed
    assert short.body_chars < 1000
    assert short.seo < reports["good"].seo


def test_wall_of_text_fails_readability(reports):
    r = scores(reports["wall_of_text"])
    for aid in ("flesch_reading_ease", "sentence_length", "paragraph_length", "passive_voice"):
        assert r[aid] == 3, aid
    assert r["subheading_distribution"] == 2
    assert reports["wall_of_text"].quality < 60


def test_no_headings_article_fails_heading_assessments(reports):
    r = scores(reports["no_headings"])
    assert r["subheading_distribution"] == 2
    assert r["keyphrase_in_subheadings"] == 3
    assert r["flesch_reading_ease"] == 9  # the prose itself is easy


def test_score_ordering(reports):
    seo = {k: v.seo for k, v in reports.items()}
    quality = {k: v.quality for k, v in reports.items()}
    assert seo["good"] > seo["no_headings"] > seo["wall_of_text"] > seo["too_short"] > seo["keyword_stuffed"]
    assert quality["good"] > quality["no_headings"] > quality["wall_of_text"]


def test_scoring_is_deterministic_and_complete(reports):
    again = score_article(load("good"))
    assert again == reports["good"]
    ids = {a.id for r in reports.values() for a in r.assessments}
    assert ids == set(ASSESSMENTS)  # every assessment fires on at least one fixture
    for r in reports.values():
        for a in r.assessments:
            assert a.rating == ("bad" if a.score <= 4 else "ok" if a.score <= 7 else "good")
            assert a.group in ("seo", "readability")


def test_suggestions_follow_the_seed_shape(reports):
    suggestions = reports["wall_of_text"].suggestions
    assert suggestions
    for s in suggestions:
        assert s["type"] in ("seo", "readability", "engagement", "monetization")
        assert s["priority"] in ("low", "medium", "high")
        assert s["suggestion"] and s["estimated_impact"] > 0 and 1 <= s["implementation_cost"] <= 5
    assert suggestions[0]["priority"] == "high"
    failing = {a.id for a in reports["wall_of_text"].failing()}
    assert failing <= {s["assessment"] for s in suggestions}


def _doc(body: str = "", **kw) -> ArticleDoc:
    return ArticleDoc(title=kw.pop("title", "A title of fine length"), body=body, **kw)


@pytest.mark.parametrize("length,expected", [(0, 1), (120, 6), (121, 9), (156, 9), (157, 6)])
def test_meta_description_length_boundaries(length, expected):
    r = score_article(_doc("Text.", meta_description="x" * length))
    assert scores(r)["meta_description_length"] == expected


@pytest.mark.parametrize("n,expected", [(99, -20), (100, -10), (199, -10), (200, 3), (250, 6), (299, 6), (300, 9)])
def test_text_length_boundaries(n, expected):
    body = " ".join(["word"] * n) + "."
    assert scores(score_article(_doc(body)))["text_length"] == expected


@pytest.mark.parametrize("hits,expected", [(1, 4), (2, 9), (5, 9), (6, -10), (7, -10), (8, -50)])
def test_keyphrase_density_thresholds(hits, expected):
    # 200 words in sentences of ten; `hits` of them contain the keyphrase once. A one-word keyphrase's
    # density is scaled by 1.1 (the length factor): 5 hits = 2.75 %, 6 = 3.3 % (over 3), 8 = 4.4 % (over 4)
    sentences = ["Garden beds need care and some water every single day."] * 20
    for i in range(hits):
        sentences[i] = "Garden beds need compost and some water every single day."
    r = score_article(_doc(" ".join(sentences), keyphrase="compost"))
    assert scores(r)["keyphrase_density"] == expected


def test_keyphrase_placement_rules():
    body = "Raised beds warm up fast. A garden needs them.\n\n## Raised garden beds\n\nMore text here."
    r = scores(score_article(_doc(body, keyphrase="raised garden beds", meta_title="Raised Garden Beds That Last",
                                  slug="raised-garden-beds", meta_description="Raised garden beds for you.")))
    assert r["keyphrase_in_introduction"] == 6  # words all in the paragraph, split over two sentences
    assert r["keyphrase_in_seo_title"] == 9
    assert r["keyphrase_in_slug"] == 9
    assert r["keyphrase_in_meta_description"] == 9
    assert r["keyphrase_in_subheadings"] == 9  # the only subheading
    r = scores(score_article(_doc(body, keyphrase="raised garden beds", meta_title="Build Garden Beds That Are Raised",
                                  slug="garden-tips")))
    assert r["keyphrase_in_seo_title"] == 6
    assert r["keyphrase_in_slug"] == 6  # 3 words, only 1 in the slug: not more than half
    assert r["keyphrase_in_meta_description"] == 3


def test_keyphrase_in_slug_majority_rule():
    long_kp = "best raised garden beds"
    assert scores(score_article(_doc("x.", keyphrase=long_kp, slug="best-raised-garden")))["keyphrase_in_slug"] == 9
    assert scores(score_article(_doc("x.", keyphrase=long_kp, slug="raised-garden")))["keyphrase_in_slug"] == 6
    assert scores(score_article(_doc("x.", keyphrase="compost bins", slug="compost")))["keyphrase_in_slug"] == 6


def test_missing_keyphrase_scores_keyphrase_assessments_bad():
    r = scores(score_article(_doc("Some text here.")))
    assert r["keyphrase_length"] == 1 and r["keyphrase_in_seo_title"] == 1


def test_links_images_and_h1():
    body = (
        "# One\n\n# Two\n\nSee [click here](/other) and [the guide](https://example.org).\n\n"
        '![](/a.png) <img src="/b.png" alt="b"> <a href="https://x.org" rel="nofollow">x docs</a>'
    )
    r = scores(score_article(_doc(body)))
    assert r["single_h1"] == 2
    assert r["generic_anchor_text"] == 3
    assert r["image_alt_text"] == 3
    assert r["images"] == 9
    assert r["internal_links"] == 9
    assert r["outbound_links"] == 8  # one followed, one nofollow
    assert scores(score_article(_doc("No links at all.")))["internal_links"] == 3


def test_readability_measures():
    assert rd.syllables("cat") == 1 and rd.syllables("garden") == 2 and rd.syllables("composting") == 3
    assert rd.sentences("Dr. Smith came. He left! Did he? Yes.") == ["Dr. Smith came.", "He left!", "Did he?", "Yes."]
    assert rd.is_passive("The soil was turned by hand.") and not rd.is_passive("We turn the soil by hand.")
    assert rd.has_transition("For example, add straw.") and not rd.has_transition("Add straw.")
    easy = rd.flesch_reading_ease(["The cat sat on the mat."])
    hard = rd.flesch_reading_ease(["Considerable organizational complexity necessitates comprehensive documentation."])
    assert easy > 90 and hard == 0.0
    assert rd.content_words("how to build an emergency fund") == ["build", "emergency", "fund"]
    assert rd.normalize("Funds") == "fund" and rd.normalize("berries") == "berry"


def test_consecutive_sentence_starts():
    body = "Save money first. Save time next. Save effort always. Then rest."
    assert scores(score_article(_doc(body)))["consecutive_sentences"] == 3
    assert scores(score_article(_doc("Save money. Then save time. Save effort.")))["consecutive_sentences"] == 9


def test_title_width_and_length():
    assert title_width_px("iiii") < title_width_px("MMMM")
    assert scores(score_article(_doc("x.", title="Short")))["title_length"] == 3
    assert scores(score_article(_doc("x.", title="W" * 70)))["seo_title_width"] == 3
