"""seo_conformance: how often Allixios' assessments give Yoast's verdict on real, human-written posts.

The corpus is tests/fixtures/conformance/ (built by benchmarks/conformance/build_corpus.py: 40 tuning
and 25 held-out posts from the 18F, Digital.gov and Rust blogs, each with its source, licence, author,
keyphrase and the verdicts of the real ``yoastseo`` package, run as an oracle). This benchmark needs
neither node nor a database: it scores each post with ``score_article`` and compares the rating
(bad/ok/good) of every assessment Yoast reported, per assessment and overall, plus the readability
traffic light (Yoast's overall readability 30/60/90 vs ours by the same penalty rule). The baseline,
measured in the same run, is the majority vote: always answering an assessment's most common Yoast
verdict in the set. Rules are tuned on the tuning set only; the held-out set is reported separately to show how far the tuning carries.

Not compared: ``titleWidth`` (the oracle gets the width from us: measuring it needs a browser's font
metrics), and Yoast assessments Allixios does not have (``textCompetingLinks``, ``imageKeyphrase``,
``textPresence``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from benchmarks.harness import log

DESCRIPTION = "agreement of assessment verdicts and the readability light with yoastseo on 40 + 25 real posts"
SIZES = {"quick": {}, "full": {}}
CORPUS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "conformance"

# Yoast identifier -> Allixios assessment id
MAPPING = {
    "introductionKeyword": "keyphrase_in_introduction",
    "keyphraseLength": "keyphrase_length",
    "keyphraseDensity": "keyphrase_density",
    "metaDescriptionKeyword": "keyphrase_in_meta_description",
    "metaDescriptionLength": "meta_description_length",
    "subheadingsKeyword": "keyphrase_in_subheadings",
    "images": "images",
    "textLength": "text_length",
    "externalLinks": "outbound_links",
    "internalLinks": "internal_links",
    "keyphraseInSEOTitle": "keyphrase_in_seo_title",
    "slugKeyword": "keyphrase_in_slug",
    "singleH1": "single_h1",
    "subheadingsTooLong": "subheading_distribution",
    "textParagraphTooLong": "paragraph_length",
    "textSentenceLength": "sentence_length",
    "textTransitionWords": "transition_words",
    "passiveVoice": "passive_voice",
    "sentenceBeginnings": "consecutive_sentences",
    "fleschReadingEase": "flesch_reading_ease",
}
LIGHTS = {30: "red", 60: "orange", 90: "green"}


def missing_dependencies() -> str | None:
    return None if any(CORPUS.glob("tuning/*.json")) else f"the conformance corpus in {CORPUS}"


def load(set_name: str) -> list[tuple[dict, str]]:
    folder = CORPUS / set_name
    return [(json.loads(p.read_text()), p.with_suffix(".md").read_text()) for p in sorted(folder.glob("*.json"))]


def compare(set_name: str) -> dict:
    """Per-assessment agreement, overall agreement, light agreement and the misses of one set."""
    from allixios.content.scoring import ArticleDoc, score_article

    agree: dict[str, list[bool]] = defaultdict(list)
    lights: list[bool] = []
    misses: list[dict] = []
    for meta, body in load(set_name):
        report = score_article(ArticleDoc(meta["title"], body, meta["keyphrase"], "", meta["description"],
                                          meta["slug"], site_host=meta["site_host"]))
        ours = report.by_id()
        expected = meta["expected"]
        for group in ("seo", "readability"):
            for yoast_id, verdict in expected[group].items():
                aid = MAPPING.get(yoast_id)
                if aid is None:
                    continue
                got = ours[aid].rating if aid in ours else "n/a"
                ok = got == verdict["rating"]
                agree[aid].append(ok)
                if not ok:
                    misses.append({"article": meta["id"], "assessment": aid, "yoast": verdict["rating"],
                                   "yoast_score": verdict["score"], "ours": got,
                                   "detail": ours[aid].detail if aid in ours else ""})
        light_ok = LIGHTS[expected["readability_score"]] == report.readability_light
        lights.append(light_ok)
        if not light_ok:
            misses.append({"article": meta["id"], "assessment": "readability_light",
                           "yoast": LIGHTS[expected["readability_score"]], "ours": report.readability_light,
                           "detail": f"{report.readability_penalty} penalty points"})
    total = [x for v in agree.values() for x in v]
    # baseline in the same run: always answering each assessment's most common Yoast verdict in this set
    votes: dict[str, list[str]] = defaultdict(list)
    light_votes: list[str] = []
    for meta, _ in load(set_name):
        for group in ("seo", "readability"):
            for yoast_id, verdict in meta["expected"][group].items():
                if yoast_id in MAPPING:
                    votes[MAPPING[yoast_id]].append(verdict["rating"])
        light_votes.append(LIGHTS[meta["expected"]["readability_score"]])
    majority = sum(max(v.count(r) for r in set(v)) for v in votes.values())
    return {
        "majority_overall": majority / sum(len(v) for v in votes.values()) if votes else 0.0,
        "majority_light": max(light_votes.count(c) for c in set(light_votes)) / len(light_votes) if light_votes else 0.0,
        "articles": len(lights),
        "verdicts": len(total),
        "overall": sum(total) / len(total) if total else 0.0,
        "per_assessment": {aid: sum(v) / len(v) for aid, v in sorted(agree.items())},
        "light": sum(lights) / len(lights) if lights else 0.0,
        "misses": misses,
    }


def run(ctx) -> None:
    report = ctx.report
    results = {name: compare(name) for name in ("tuning", "heldout")}
    rows = []
    for aid in sorted(set(results["tuning"]["per_assessment"]) | set(results["heldout"]["per_assessment"])):
        rows.append([aid] + [f"{100 * results[s]['per_assessment'].get(aid, 0):.1f} %" for s in ("tuning", "heldout")])
    for s in ("tuning", "heldout"):
        r = results[s]
        rows_note = f"{r['articles']} articles, {r['verdicts']} verdicts"
        report.metric(f"{s}: verdicts agreeing", round(100 * r["overall"], 1), "%", rows_note)
        report.metric(f"{s}: readability light agreeing", round(100 * r["light"], 1), "%")
        report.ratio(f"{s}: agreement vs majority-verdict baseline", r["overall"], r["majority_overall"],
                     "baseline: always the most common Yoast verdict of each assessment in this set")
        report.ratio(f"{s}: light agreement vs majority-light baseline", r["light"], r["majority_light"],
                     "baseline: always the most common Yoast light in this set")
        report.goal(f"{s}: verdicts agree", round(100 * r["overall"], 1), ">=", 95, "%")
        report.goal(f"{s}: weakest assessment", round(100 * min(r["per_assessment"].values()), 1), ">=", 90, "%")
        report.goal(f"{s}: readability light agrees", round(100 * r["light"], 1), ">=", 90, "%")
        log(f"{s}: {100 * r['overall']:.1f} % of {r['verdicts']} verdicts, light {100 * r['light']:.1f} %")
    rows.append(["**overall**"] + [f"{100 * results[s]['overall']:.1f} %" for s in ("tuning", "heldout")])
    rows.append(["**readability light**"] + [f"{100 * results[s]['light']:.1f} %" for s in ("tuning", "heldout")])
    report.table("agreement with yoastseo 3.6.0 per assessment", ["assessment", "tuning (40)", "held-out (25)"], rows)


if __name__ == "__main__":  # quick look without the harness: python -m benchmarks.seo_conformance [set]
    import sys
    from collections import Counter

    name = sys.argv[1] if len(sys.argv) > 1 else "tuning"
    r = compare(name)
    print(f"{name}: overall {100 * r['overall']:.1f} % of {r['verdicts']}, light {100 * r['light']:.1f} %")
    for aid, v in r["per_assessment"].items():
        print(f"  {aid:32s} {100 * v:5.1f} %")
    wanted = sys.argv[2] if len(sys.argv) > 2 else None
    print(Counter(m["assessment"] for m in r["misses"]).most_common())
    for m in r["misses"]:
        if wanted and m["assessment"] == wanted:
            print(m)
