"""The conformance corpus (real posts with yoastseo's verdicts) is well formed, and scoring keeps
agreeing with it. No node needed: the oracle's verdicts are stored in the fixtures."""

from __future__ import annotations

import pytest

from allixios.content import readability as rd
from allixios.content.markdown_text import parse_markdown
from benchmarks.seo_conformance import compare, load

OPEN_LICENCES = ("CC0-1.0", "MIT OR Apache-2.0", "CC-BY")


@pytest.mark.parametrize("set_name,minimum", [("tuning", 40), ("heldout", 25)])
def test_corpus_is_real_openly_licensed_and_complete(set_name, minimum):
    articles = load(set_name)
    assert len(articles) >= minimum
    for meta, body in articles:
        assert meta["source_url"].startswith("https://github.com/") and meta["author"], meta["id"]
        assert meta["licence"].startswith(OPEN_LICENCES), meta["id"]
        title_words = [w.lower() for w in rd.words(meta["title"])]
        assert meta["keyphrase"] and all(w in title_words for w in meta["keyphrase"].split()), meta["id"]
        words = sum(len(rd.words(b.text)) for b in parse_markdown(body).blocks)
        assert 300 <= words <= 3000, (meta["id"], words)
        assert meta["expected"]["readability_score"] in (30, 60, 90)
        assert meta["expected"]["seo"] and meta["expected"]["readability"]


def test_tuning_and_heldout_sets_are_disjoint():
    assert not {m["id"] for m, _ in load("tuning")} & {m["id"] for m, _ in load("heldout")}


@pytest.mark.parametrize("set_name", ["tuning", "heldout"])
def test_verdicts_keep_agreeing_with_yoast(set_name):
    # floors at the measured agreement (verdicts 98.2 / 98.6 %, light 97.5 / 96 %, weakest assessment
    # 92.5 / 92 %) minus a margin of about one article: a rule change that costs agreement shows here;
    # the per-assessment figures are in the benchmark
    result = compare(set_name)
    assert result["overall"] >= 0.97
    assert result["light"] >= 0.9
    assert min(result["per_assessment"].values()) >= 0.87
