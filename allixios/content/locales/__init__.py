"""Locales Allixios can translate into, score and check: one registry, read by config, scoring, the
language check and the site.

A locale is an ISO 639-1 code (``de``). Each entry names the language for prompts, its lingua
detector language, its pyphen dictionary (syllables), the published Flesch adaptation used for
readability (None: "not available for <locale>") and the word lists we keep for it (an assessment
that needs a list we do not have is reported "not available for <locale>", never scored with the
English list). Details: docs/areas/localization.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from allixios.errors import ValidationError


@dataclass(frozen=True)
class LocaleInfo:
    code: str
    name: str  # English name, for prompts and messages
    native: str  # the language's own name, for the site's language links
    lingua: str  # lingua.Language member name
    pyphen: str  # pyphen dictionary
    readability: str | None  # key of allixios.content.locales.readability.FORMULAS
    og_locale: str  # Open Graph locale (language_TERRITORY)


LOCALES: dict[str, LocaleInfo] = {
    "en": LocaleInfo("en", "English", "English", "ENGLISH", "en_US", "flesch", "en_US"),
    "de": LocaleInfo("de", "German", "Deutsch", "GERMAN", "de_DE", "amstad", "de_DE"),
    "es": LocaleInfo("es", "Spanish", "Español", "SPANISH", "es", "fernandez_huerta", "es_ES"),
    "fr": LocaleInfo("fr", "French", "Français", "FRENCH", "fr", "kandel_moles", "fr_FR"),
    "nl": LocaleInfo("nl", "Dutch", "Nederlands", "DUTCH", "nl_NL", "douma", "nl_NL"),
    "it": LocaleInfo("it", "Italian", "Italiano", "ITALIAN", "it_IT", "flesch_vacca", "it_IT"),
    "pt": LocaleInfo("pt", "Portuguese", "Português", "PORTUGUESE", "pt_PT", "martins", "pt_PT"),
    "sv": LocaleInfo("sv", "Swedish", "Svenska", "SWEDISH", "sv", None, "sv_SE"),
    "pl": LocaleInfo("pl", "Polish", "Polski", "POLISH", "pl_PL", None, "pl_PL"),
}


def locale_info(code: str) -> LocaleInfo:
    """The registry entry of ``code``; a clear error naming the supported codes otherwise."""
    key = (code or "").strip().lower()
    info = LOCALES.get(key)
    if info is None:
        raise ValidationError(
            f"locale {code!r} is not supported",
            fix=f"use one of {', '.join(LOCALES)} (ISO 639-1 codes; docs/areas/localization.md lists what each supports)",
        )
    return info


def parse_locales(values: list[str] | str) -> list[str]:
    """Locale codes from a list or a comma-separated string, validated, de-duplicated, in order."""
    raw = values.split(",") if isinstance(values, str) else [p for v in values for p in str(v).split(",")]
    out: list[str] = []
    for v in raw:
        if v.strip():
            code = locale_info(v).code
            if code not in out:
                out.append(code)
    return out
