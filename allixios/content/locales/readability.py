"""Language-aware readability: the published Flesch adaptations, syllables from pyphen.

English keeps its own path (``allixios.content.readability`` / ``scoring``, unchanged); this module
serves every other locale of the registry. ASL is words per sentence, ASW syllables per word:

| formula | locale | score |
|---|---|---|
| Flesch (1948) | en | 206.835 - 1.015 ASL - 84.6 ASW |
| Amstad (1978) | de | 180 - ASL - 58.5 ASW |
| Fernández-Huerta (1959) | es | 206.84 - 0.60 P - 1.02 F (P syllables, F sentences per 100 words) |
| Kandel & Moles (1958) | fr | 207 - 1.015 ASL - 73.6 ASW |
| Douma (1960) | nl | 206.835 - 0.93 ASL - 77 ASW |
| Flesch-Vacca (1972) | it | 217 - 1.3 ASL - 0.6 P |
| Martins et al. (1996) | pt | 248.835 - 1.015 ASL - 84.6 ASW |

Scores are clamped to 0..100; each scale reads like Flesch's (higher is easier, 60+ is plain).
Syllables are pyphen's hyphenation points + 1: pyphen never splits off a single letter at a word's
edge (``aber`` counts one), so counts run slightly low — a known, documented limit.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

from allixios.content.locales import locale_info

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*|\d+(?:[.,]\d+)*")
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'»”)\]]*\s+(?=[\"'«„“(\[¿¡]?[^\W_])")


@dataclass(frozen=True)
class Formula:
    name: str
    fn: Callable[[float, float], float]  # (ASL, ASW) -> score


FORMULAS: dict[str, Formula] = {
    "flesch": Formula("Flesch reading ease", lambda asl, asw: 206.835 - 1.015 * asl - 84.6 * asw),
    "amstad": Formula("Amstad reading ease (German Flesch)", lambda asl, asw: 180 - asl - 58.5 * asw),
    "fernandez_huerta": Formula("Fernández-Huerta reading ease (Spanish Flesch)",
                                lambda asl, asw: 206.84 - 0.60 * (100 * asw) - 1.02 * (100 / asl)),
    "kandel_moles": Formula("Kandel-Moles reading ease (French Flesch)", lambda asl, asw: 207 - 1.015 * asl - 73.6 * asw),
    "douma": Formula("Douma reading ease (Dutch Flesch)", lambda asl, asw: 206.835 - 0.93 * asl - 77 * asw),
    "flesch_vacca": Formula("Flesch-Vacca reading ease (Italian Flesch)", lambda asl, asw: 217 - 1.3 * asl - 0.6 * (100 * asw)),
    "martins": Formula("Martins reading ease (Portuguese Flesch)", lambda asl, asw: 248.835 - 1.015 * asl - 84.6 * asw),
}

# Transition words per locale: only where we keep a list (nl, it, pt, ...: "not available").
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "de": ("also", "auch", "außerdem", "zudem", "danach", "dann", "deshalb", "daher", "darum", "denn", "doch",
           "jedoch", "aber", "trotzdem", "dennoch", "folglich", "schließlich", "zuerst", "zunächst", "später",
           "anschließend", "beispielsweise", "zum beispiel", "stattdessen", "weil", "obwohl", "während",
           "ebenso", "allerdings", "insbesondere", "kurz gesagt", "im gegenteil", "vor allem", "zum schluss"),
    "es": ("además", "también", "luego", "después", "entonces", "por eso", "por lo tanto", "sin embargo",
           "aunque", "porque", "primero", "finalmente", "por ejemplo", "en cambio", "así", "incluso", "mientras",
           "por último", "en resumen", "es decir", "de hecho", "por otro lado", "asimismo", "en primer lugar"),
    "fr": ("aussi", "ensuite", "puis", "donc", "ainsi", "cependant", "pourtant", "toutefois", "mais", "car",
           "parce que", "d'abord", "enfin", "finalement", "par exemple", "en effet", "de plus", "en outre",
           "par conséquent", "en revanche", "alors", "bien que", "néanmoins", "en résumé", "c'est-à-dire"),
}


@functools.lru_cache(maxsize=16)
def _hyphenator(lang: str):
    import pyphen  # lazily: dictionaries load on first use

    return pyphen.Pyphen(lang=lang)


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def sentences(text: str) -> list[str]:
    parts = _SENTENCE_END.split(text)
    return [p.strip() for p in parts if words(p)]


def syllables(word: str, locale: str) -> int:
    if word[:1].isdigit():
        return 1
    return len(_hyphenator(locale_info(locale).pyphen).positions(word.lower())) + 1


@dataclass(frozen=True)
class Readability:
    locale: str
    formula: str  # the formula's name, e.g. "Amstad reading ease (German Flesch)"
    score: float
    words: int
    sentences: int
    syllables_per_word: float


def reading_ease(sentence_list: list[str], locale: str) -> Readability | None:
    """The locale's reading ease over ``sentence_list``; None when the locale has no published formula."""
    info = locale_info(locale)
    if info.readability is None:
        return None
    formula = FORMULAS[info.readability]
    all_words = [w for s in sentence_list for w in words(s)]
    if not all_words or not sentence_list:
        return Readability(info.code, formula.name, 0.0, 0, len(sentence_list), 0.0)
    asl = len(all_words) / len(sentence_list)
    asw = sum(syllables(w, info.code) for w in all_words) / len(all_words)
    score = max(0.0, min(100.0, formula.fn(asl, asw)))
    return Readability(info.code, formula.name, round(score, 1), len(all_words), len(sentence_list), round(asw, 3))


@functools.lru_cache(maxsize=16)
def _transition_re(locale: str) -> re.Pattern | None:
    items = TRANSITIONS.get(locale)
    if not items:
        return None
    alternatives = "|".join(sorted((re.escape(t) for t in items), key=len, reverse=True))
    return re.compile(rf"(?<![^\W\d_])(?:{alternatives})(?![^\W\d_])", re.I)


def has_transition_list(locale: str) -> bool:
    return _transition_re(locale) is not None


def has_transition(sentence: str, locale: str) -> bool:
    pattern = _transition_re(locale)
    return bool(pattern and pattern.search(sentence))
