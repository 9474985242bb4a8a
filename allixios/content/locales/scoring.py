"""Per-locale scoring: the documented assessments with language-aware readability.

English is scored by ``allixios.content.scoring.score_article`` exactly as before. For another
locale the same scorer runs on an accent-folded copy of the article (so its keyphrase, length,
link, image, heading and metadata assessments see whole words: ``für`` stays one word), then the
assessments that depend on English are replaced:

- ``flesch_reading_ease`` becomes the locale's published Flesch adaptation (Amstad, Fernández-Huerta,
  Kandel-Moles, Douma, ...; ``allixios.content.locales.readability``); a locale without one reports it
  "not available for <locale>";
- ``transition_words`` uses the locale's list where we keep one, else "not available for <locale>";
- ``passive_voice`` needs English grammar patterns: "not available for <locale>" for every other locale.

"Not available" assessments are left out of the group scores (like assessments that do not apply)
and listed in ``not_available`` with the reason, so nobody mistakes them for a pass.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field, replace

from allixios.content import scoring
from allixios.content.locales import locale_info
from allixios.content.locales import readability as lr
from allixios.content.locales.text import prose_paragraphs

ENGLISH_ONLY = ("flesch_reading_ease", "transition_words", "passive_voice")
_FOLD = str.maketrans({"ß": "ss", "ẞ": "SS", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O",
                       "ł": "l", "Ł": "L", "đ": "d", "Đ": "D"})


def fold(text: str) -> str:
    """ASCII letters for the English tokenizer: accents dropped, ß -> ss (the same fold on every field)."""
    text = (text or "").translate(_FOLD)
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


@dataclass
class LocalizedReport:
    locale: str
    quality: int
    seo: int
    assessments: list  # scoring.Assessment
    suggestions: list[dict]
    word_count: int
    body_chars: int
    readability: dict | None = None  # formula, score, words, sentences, syllables_per_word
    not_available: list[dict] = field(default_factory=list)  # {id, group, detail}

    def assessments_json(self) -> list[dict]:
        return [a.as_dict() for a in self.assessments]

    def failing(self) -> list:
        return [a for a in self.assessments if not a.passed]


def _group(items: list) -> int:
    if not items:
        return 0
    return max(0, min(100, round(100 * sum(a.score for a in items) / (9 * len(items)))))


def score_localized(doc: scoring.ArticleDoc, locale: str) -> LocalizedReport:
    info = locale_info(locale)
    if info.code == "en":  # the English path, unchanged
        r = scoring.score_article(doc)
        return LocalizedReport("en", r.quality, r.seo, list(r.assessments), list(r.suggestions), r.word_count,
                               r.body_chars)
    folded = replace(doc, title=fold(doc.title), body=fold(doc.body), keyphrase=fold(doc.keyphrase),
                     meta_title=fold(doc.meta_title), meta_description=fold(doc.meta_description), slug=fold(doc.slug))
    base = scoring.score_article(folded)
    kept = [a for a in base.assessments if a.id not in ENGLISH_ONLY]
    groups = {a.id: a.group for a in base.assessments}
    not_available: list[dict] = []
    sentence_list = [s for p in prose_paragraphs(doc.body) for s in lr.sentences(p)]
    added = []

    ease = lr.reading_ease(sentence_list, info.code) if sentence_list else None
    readability = None
    if ease is None and info.readability is None:
        not_available.append({"id": "flesch_reading_ease", "group": "readability",
                              "detail": f"not available for {info.code}: no published Flesch adaptation for {info.name}"})
    elif ease is not None:
        score = 9 if ease.score >= 60 else 6 if ease.score >= 50 else 3
        added.append(scoring.Assessment("flesch_reading_ease", "readability", score, scoring.rating(score),
                                        scoring.rating(score) == "good",
                                        f"{ease.formula} {ease.score:.1f} (60 or more is easy to read)"))
        readability = {"formula": ease.formula, "score": ease.score, "words": ease.words, "sentences": ease.sentences,
                       "syllables_per_word": ease.syllables_per_word}

    words = [w for s in sentence_list for w in lr.words(s)]
    if not lr.has_transition_list(info.code):
        not_available.append({"id": "transition_words", "group": "readability",
                              "detail": f"not available for {info.code}: no {info.name} transition-word list"})
    elif len(words) >= 200 and sentence_list:
        share = 100.0 * sum(1 for s in sentence_list if lr.has_transition(s, info.code)) / len(sentence_list)
        score = 9 if share >= 30 else 6 if share >= 20 else 3
        added.append(scoring.Assessment("transition_words", "readability", score, scoring.rating(score),
                                        scoring.rating(score) == "good",
                                        f"{share:.0f}% of sentences contain a {info.name} transition word (at least 30%)"))
    not_available.append({"id": "passive_voice", "group": groups.get("passive_voice", "readability"),
                          "detail": f"not available for {info.code}: passive-voice patterns exist for English only"})

    assessments = kept + added
    dropped = {a.id for a in base.assessments} - {a.id for a in assessments}
    suggestions = [s for s in base.suggestions if s.get("assessment") not in dropped | {"flesch_reading_ease", "transition_words"}]
    for a in added:
        if not a.passed:
            fix = ("Use shorter sentences and simpler words." if a.id == "flesch_reading_ease"
                   else "Connect sentences with transition words.")
            suggestions.append({"type": "readability", "priority": "high" if a.rating == "bad" else "medium",
                                "suggestion": f"{fix} ({a.detail})", "estimated_impact": 5.0,
                                "implementation_cost": 3, "assessment": a.id})
    return LocalizedReport(
        info.code,
        quality=_group([a for a in assessments if a.group == "readability"]),
        seo=_group([a for a in assessments if a.group == "seo"]),
        assessments=assessments, suggestions=suggestions, word_count=len(words) or base.word_count,
        body_chars=len(doc.body or ""), readability=readability, not_available=not_available,
    )
