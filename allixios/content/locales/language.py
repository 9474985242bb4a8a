"""Is this text in the target language? lingua-language-detector over the registry's languages.

The whole text (title + prose) must be detected as the target language with a confidence of at
least ``MIN_CONFIDENCE``, and so must at least ``MIN_PARAGRAPH_SHARE`` of its paragraphs long enough
to judge (``MIN_PARAGRAPH_LETTERS``): a translation that left half its paragraphs in English fails
even if the whole still leans to the target. The detector is built once per process, lazily.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

from allixios.content.locales import LOCALES, locale_info
from allixios.content.locales.text import prose_paragraphs

DETECTOR = "lingua-language-detector"
MIN_CONFIDENCE = 0.5
MIN_PARAGRAPH_SHARE = 0.8
MIN_PARAGRAPH_LETTERS = 40
MIN_TEXT_LETTERS = 20


@functools.lru_cache(maxsize=1)
def _detector():
    from lingua import Language, LanguageDetectorBuilder

    languages = [getattr(Language, info.lingua) for info in LOCALES.values()]
    return LanguageDetectorBuilder.from_languages(*languages).build()


def _code_of(language) -> str | None:
    if language is None:
        return None
    return next((c for c, info in LOCALES.items() if info.lingua == language.name), None)


def _letters(text: str) -> int:
    return sum(ch.isalpha() for ch in text)


@dataclass(frozen=True)
class LanguageCheck:
    ok: bool
    locale: str
    detected: str | None  # locale code of the most likely language
    confidence: float  # of the TARGET language over the whole text
    paragraphs_checked: int
    paragraphs_in_locale: int
    reason: str | None  # why it failed, one line
    detector: str = DETECTOR

    def as_dict(self) -> dict:
        return asdict(self)


def check_language(title: str, body: str, locale: str) -> LanguageCheck:
    from lingua import Language

    info = locale_info(locale)
    target = getattr(Language, info.lingua)
    paragraphs = prose_paragraphs(body)
    text = " ".join([title or "", *paragraphs]).strip()
    if _letters(text) < MIN_TEXT_LETTERS:
        return LanguageCheck(False, info.code, None, 0.0, 0, 0, f"too little text to tell its language (expected {info.name})")
    det = _detector()
    detected = _code_of(det.detect_language_of(text))
    confidence = round(det.compute_language_confidence(text, target), 3)
    judged = [p for p in paragraphs if _letters(p) >= MIN_PARAGRAPH_LETTERS]
    in_locale = sum(1 for p in judged if _code_of(det.detect_language_of(p)) == info.code)
    name = LOCALES[detected].name if detected in LOCALES else "an unknown language"
    reason = None
    if detected != info.code or confidence < MIN_CONFIDENCE:
        reason = (f"the text is in {name}, not {info.name} ({DETECTOR}: {info.name} confidence {confidence:.2f}, "
                  f"needs {MIN_CONFIDENCE})")
    elif judged and in_locale / len(judged) < MIN_PARAGRAPH_SHARE:
        reason = (f"only {in_locale} of {len(judged)} paragraphs are in {info.name} "
                  f"(needs {MIN_PARAGRAPH_SHARE:.0%}; the rest were left untranslated)")
    return LanguageCheck(reason is None, info.code, detected, confidence, len(judged), in_locale, reason)
