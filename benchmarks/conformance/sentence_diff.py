"""Dev aid: ``python -m benchmarks.conformance.sentence_diff SET [ID...]`` compares, sentence by
sentence, which sentences yoastseo (run as a black box through inspect.js) marks passive with the
ones ``readability.is_passive`` marks, and both sentence totals (the share's denominators). Needs node and
``npm ci`` in benchmarks/conformance; the oracle's answers are cached in $TMPDIR."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from allixios.content import readability as rd
from allixios.content.scoring import ArticleDoc, _analyse, passive_denominator
from benchmarks.conformance.build_corpus import oracle_html
from benchmarks.seo_conformance import CORPUS

CACHE = Path(os.environ.get("TMPDIR", tempfile.gettempdir())) / "allixios-sentence-diff"
RESEARCHES = ["getPassiveVoiceResult", "getFleschReadingScore", "countSentencesFromText"]


def oracle(set_name: str, article: str) -> dict:
    CACHE.mkdir(exist_ok=True)
    cached = CACHE / f"{set_name}-{article}.json"
    if cached.exists():
        return json.loads(cached.read_text())
    meta = json.loads((CORPUS / set_name / f"{article}.json").read_text())
    body = (CORPUS / set_name / f"{article}.md").read_text()
    payload = {"html": oracle_html(body), "keyphrase": meta["keyphrase"], "title": meta["title"],
               "description": meta["description"], "slug": meta["slug"], "permalink": meta["published_url"]}
    out = subprocess.run(["node", "inspect.js", *RESEARCHES], input=json.dumps(payload), text=True, check=True,
                         capture_output=True, cwd=Path(__file__).parent).stdout
    cached.write_text(out)
    return json.loads(out)


def key(s: str) -> str:
    s = html.unescape(re.sub(r"<[^>]*>", " ", s))  # yoastseo reports its sentences with their markup
    return " ".join(w.lower() for w in re.findall(r"\w+", s))


def same(a: str, b: str) -> bool:
    """One sentence, though yoastseo keeps inline code that we drop and splits a few differently."""
    if a and b and (a in b or b in a):
        return True
    wa, wb = set(a.split()), set(b.split())
    return bool(wa and wb) and len(wa & wb) / min(len(wa), len(wb)) >= 0.8


def diff(set_name: str, article: str) -> tuple[list[str], list[str], int, int]:
    """(Yoast-only passives, ours-only passives, Yoast's total, our total)."""
    meta = json.loads((CORPUS / set_name / f"{article}.json").read_text())
    body = (CORPUS / set_name / f"{article}.md").read_text()
    t = _analyse(ArticleDoc(meta["title"], body, meta["keyphrase"], "", meta["description"], meta["slug"],
                            site_host=meta["site_host"]))
    res = oracle(set_name, article)["getPassiveVoiceResult"]
    theirs = [key(s) for s in res["passives"]]
    ours = [key(s) for s in t.sentences if rd.is_passive(s)]
    yoast_only = [s for s in theirs if not any(same(o, s) for o in ours)]
    ours_only = [o for o in ours if not any(same(o, s) for s in theirs)]
    return yoast_only, ours_only, res["total"], passive_denominator(t)


if __name__ == "__main__":
    set_name, *ids = sys.argv[1:]
    ids = ids or sorted(p.stem for p in (CORPUS / set_name).glob("*.json"))
    for article in ids:
        meta = json.loads((CORPUS / set_name / f"{article}.json").read_text())
        y_only, o_only, y_total, o_total = diff(set_name, article)
        exp = meta["expected"]["readability"].get("passiveVoice", {})
        print(f"== {article}: yoast {exp.get('rating')} total {y_total} / ours total {o_total}")
        for s in y_only:
            print(f"   Y+ {s}")
        for s in o_only:
            print(f"   O+ {s}")
