"""The OFFLINE STAND-IN TRANSLATOR: answers translation prompts without a key. It cannot translate.

The offline writer (``offline/writer``) hands it every brief whose task is ``translate``. It keeps
the source's structure (sections, lists, images, links) and fills it with sentences from a small
FIXED PHRASE BANK written in the target language, opening with a notice (in that language) that
the text is a stand-in, not a translation. So the language check (lingua) honestly sees text in
the target language — because it is — while nobody can mistake it for a translation: the title
starts with the bank's "stand-in translation" label, the answer carries ``"stand_in": true``, the
version is recorded with translator "offline/writer (stand-in translator)" and the site marks the
page stand-in (noindex). Glossary terms found in the source are emitted with their fixed
translation, so the glossary path is exercised too. A locale without a phrase bank gets the
English source back, and the language check rejects it: the stand-in never pretends.
"""

from __future__ import annotations

import hashlib
import json
import re

BANKS: dict[str, dict] = {
    "de": {
        "label": "Platzhalter-Übersetzung",
        "notice": "Dieser Text ist eine Platzhalter-Übersetzung des Offline-Stand-ins: Er wurde nicht wirklich "
                  "übersetzt und dient nur dazu, den Ablauf ohne Schlüssel zu prüfen.",
        "section": "Abschnitt {n} über {kp}",
        "section_plain": "Abschnitt {n}",
        "link": "Weitere Informationen finden Sie in dieser [weiterführenden Quelle]({url}).",
        "image": "Abbildung zum Thema {kp}",
        "glossary": "Der Fachbegriff dafür lautet hier „{term}“.",
        "intro": "In diesem Beitrag geht es um {kp} und die wichtigsten Schritte für den Anfang.",
        "meta": "Platzhalter-Übersetzung zu {kp}: Dieser Text wurde offline erzeugt und nicht wirklich übersetzt. "
                "Er zeigt nur den Ablauf.",
        "sentences": [
            "Kleine Schritte helfen oft mehr als ein großer Plan.",
            "Viele Menschen fangen mit wenig Zeit und einfachen Mitteln an.",
            "Es lohnt sich, jede Woche eine kleine Sache zu verbessern.",
            "Am Anfang ist es wichtig, geduldig zu bleiben.",
            "Mit der Zeit werden die Ergebnisse deutlich sichtbar.",
            "Eine klare Übersicht spart später viel Arbeit.",
            "Sie brauchen dafür keine besonderen Kenntnisse.",
            "Fragen Sie ruhig andere nach ihren Erfahrungen.",
            "Schreiben Sie sich die wichtigsten Punkte kurz auf.",
            "So behalten Sie den Überblick und bleiben am Ball.",
            "Danach können Sie den nächsten Schritt in Ruhe planen.",
            "Zum Schluss zählt vor allem, dass Sie dranbleiben.",
        ],
    },
    "es": {
        "label": "Traducción provisional",
        "notice": "Este texto es una traducción provisional del sustituto sin conexión: no se ha traducido de "
                  "verdad y solo sirve para probar el proceso sin clave.",
        "section": "Sección {n} sobre {kp}",
        "section_plain": "Sección {n}",
        "link": "Puede encontrar más información en esta [fuente de referencia]({url}).",
        "image": "Imagen sobre {kp}",
        "glossary": "Aquí el término técnico es «{term}».",
        "intro": "Este artículo trata de {kp} y de los primeros pasos más importantes.",
        "meta": "Traducción provisional sobre {kp}: este texto se generó sin conexión y no se ha traducido de "
                "verdad. Solo muestra el proceso.",
        "sentences": [
            "Los pasos pequeños suelen ayudar más que un gran plan.",
            "Muchas personas empiezan con poco tiempo y medios sencillos.",
            "Vale la pena mejorar una cosa pequeña cada semana.",
            "Al principio es importante tener paciencia.",
            "Con el tiempo los resultados se ven con claridad.",
            "Una lista clara ahorra mucho trabajo más adelante.",
            "No hace falta tener conocimientos especiales.",
            "Pregunte a otras personas por su experiencia.",
            "Anote brevemente los puntos más importantes.",
            "Así no pierde de vista lo esencial y sigue adelante.",
            "Después puede planear el siguiente paso con calma.",
            "Al final lo que más cuenta es la constancia.",
        ],
    },
    "fr": {
        "label": "Traduction provisoire",
        "notice": "Ce texte est une traduction provisoire du substitut hors ligne : il n'a pas vraiment été "
                  "traduit et sert seulement à tester le processus sans clé.",
        "section": "Partie {n} sur {kp}",
        "section_plain": "Partie {n}",
        "link": "Vous trouverez plus d'informations dans cette [source de référence]({url}).",
        "image": "Illustration sur le thème {kp}",
        "glossary": "Ici, le terme technique est « {term} ».",
        "intro": "Cet article parle de {kp} et des premières étapes les plus importantes.",
        "meta": "Traduction provisoire sur {kp} : ce texte a été créé hors ligne et n'a pas vraiment été traduit. "
                "Il montre seulement le processus.",
        "sentences": [
            "Les petits pas aident souvent plus qu'un grand projet.",
            "Beaucoup de gens commencent avec peu de temps et des moyens simples.",
            "Il vaut la peine d'améliorer une petite chose chaque semaine.",
            "Au début, il est important de rester patient.",
            "Avec le temps, les résultats deviennent bien visibles.",
            "Une vue d'ensemble claire évite beaucoup de travail plus tard.",
            "Vous n'avez pas besoin de connaissances particulières.",
            "N'hésitez pas à demander aux autres leur expérience.",
            "Notez brièvement les points les plus importants.",
            "Ainsi, vous gardez une vue d'ensemble et vous continuez.",
            "Ensuite, vous pouvez préparer la prochaine étape avec calme.",
            "Enfin, ce qui compte surtout, c'est de persévérer.",
        ],
    },
    "nl": {
        "label": "Tijdelijke vertaling",
        "notice": "Deze tekst is een tijdelijke vertaling van de offline vervanger: hij is niet echt vertaald en "
                  "dient alleen om het proces zonder sleutel te testen.",
        "section": "Deel {n} over {kp}",
        "section_plain": "Deel {n}",
        "link": "Meer informatie vindt u in deze [betrouwbare bron]({url}).",
        "image": "Afbeelding over {kp}",
        "glossary": "De vakterm hiervoor is hier „{term}”.",
        "intro": "Dit artikel gaat over {kp} en de belangrijkste eerste stappen.",
        "meta": "Tijdelijke vertaling over {kp}: deze tekst is offline gemaakt en niet echt vertaald. Hij laat "
                "alleen het proces zien.",
        "sentences": [
            "Kleine stappen helpen vaak meer dan een groot plan.",
            "Veel mensen beginnen met weinig tijd en eenvoudige middelen.",
            "Het loont om elke week een klein ding te verbeteren.",
            "In het begin is het belangrijk om geduld te hebben.",
            "Na een tijdje worden de resultaten goed zichtbaar.",
            "Een duidelijk overzicht bespaart later veel werk.",
            "U hebt daarvoor geen bijzondere kennis nodig.",
            "Vraag gerust anderen naar hun ervaringen.",
            "Schrijf de belangrijkste punten kort op.",
            "Zo houdt u het overzicht en blijft u bezig.",
            "Daarna kunt u de volgende stap rustig plannen.",
            "Uiteindelijk telt vooral dat u volhoudt.",
        ],
    },
    "it": {
        "label": "Traduzione provvisoria",
        "notice": "Questo testo è una traduzione provvisoria del sostituto offline: non è stato tradotto davvero "
                  "e serve solo a provare il processo senza chiave.",
        "section": "Parte {n} su {kp}",
        "section_plain": "Parte {n}",
        "link": "Trovate altre informazioni in questa [fonte di riferimento]({url}).",
        "image": "Immagine sul tema {kp}",
        "glossary": "Qui il termine tecnico è «{term}».",
        "intro": "Questo articolo parla di {kp} e dei primi passi più importanti.",
        "meta": "Traduzione provvisoria su {kp}: questo testo è stato creato offline e non è stato tradotto "
                "davvero. Mostra solo il processo.",
        "sentences": [
            "I piccoli passi aiutano spesso più di un grande piano.",
            "Molte persone iniziano con poco tempo e mezzi semplici.",
            "Vale la pena migliorare una piccola cosa ogni settimana.",
            "All'inizio è importante avere pazienza.",
            "Con il tempo i risultati diventano ben visibili.",
            "Una visione chiara fa risparmiare molto lavoro più avanti.",
            "Non servono conoscenze particolari.",
            "Chiedete pure agli altri le loro esperienze.",
            "Scrivete in breve i punti più importanti.",
            "Così mantenete la visione d'insieme e andate avanti.",
            "Poi potete pianificare con calma il passo successivo.",
            "Alla fine conta soprattutto la costanza.",
        ],
    },
    "pt": {
        "label": "Tradução provisória",
        "notice": "Este texto é uma tradução provisória do substituto offline: não foi traduzido de verdade e "
                  "serve apenas para testar o processo sem chave.",
        "section": "Parte {n} sobre {kp}",
        "section_plain": "Parte {n}",
        "link": "Pode encontrar mais informações nesta [fonte de referência]({url}).",
        "image": "Imagem sobre {kp}",
        "glossary": "Aqui o termo técnico é «{term}».",
        "intro": "Este artigo fala de {kp} e dos primeiros passos mais importantes.",
        "meta": "Tradução provisória sobre {kp}: este texto foi criado offline e não foi traduzido de verdade. "
                "Mostra apenas o processo.",
        "sentences": [
            "Os pequenos passos ajudam muitas vezes mais do que um grande plano.",
            "Muitas pessoas começam com pouco tempo e meios simples.",
            "Vale a pena melhorar uma pequena coisa todas as semanas.",
            "No início é importante ter paciência.",
            "Com o tempo os resultados tornam-se bem visíveis.",
            "Uma visão clara poupa muito trabalho mais tarde.",
            "Não são precisos conhecimentos especiais.",
            "Pergunte a outras pessoas pela sua experiência.",
            "Anote de forma breve os pontos mais importantes.",
            "Assim mantém a visão geral e continua em frente.",
            "Depois pode planear o passo seguinte com calma.",
            "No fim o que mais conta é a persistência.",
        ],
    },
}

_LINK = re.compile(r"(?<!!)\[([^\]]*)\]\(([^)\s]+)[^)]*\)")
_IMAGE = re.compile(r"^!\[([^\]]*)\]\(([^)\s]+)[^)]*\)\s*$")


def _sentence_count(text: str) -> int:
    return max(1, len(re.findall(r"[.!?](?:\s|$)", text)))


def translate(brief: dict) -> dict:
    """The stand-in "translation" of ``brief['source']`` into ``brief['locale']`` (see the module docstring)."""
    locale = brief.get("locale") or ""
    source = brief.get("source") or {}
    bank = BANKS.get(locale)
    if bank is None:  # no phrase bank: hand back the source, which the language check will reject
        return {k: source.get(k) for k in ("title", "meta_title", "meta_description", "slug", "excerpt", "body",
                                            "tags")} | {"primary_keyphrase": source.get("primary_keyphrase") or "",
                                                        "stand_in": True}
    glossary = [(t, tr) for t, tr in brief.get("glossary") or []]
    kp = (brief.get("keyphrase") or source.get("primary_keyphrase") or "").strip()
    seed = int(hashlib.sha256(f"{source.get('slug')}:{locale}".encode()).hexdigest()[:8], 16)
    sentences = bank["sentences"]
    cursor = [seed % len(sentences)]

    def take(n: int) -> list[str]:
        out = []
        for _ in range(n):
            out.append(sentences[cursor[0] % len(sentences)])
            cursor[0] += 1
        return out

    def glossary_hits(text: str) -> list[str]:
        low = text.lower()
        return [bank["glossary"].format(term=tr) for t, tr in glossary if t.lower() in low]

    blocks = [b for b in re.split(r"\n\s*\n", source.get("body") or "") if b.strip()]
    out = [bank["notice"] + " " + bank["intro"].format(kp=kp)]
    section = 0
    for block in blocks:
        first = block.strip().splitlines()[0]
        if first.startswith("#"):
            section += 1
            level = "###" if first.startswith("###") else "##"
            title = bank["section"] if section % 2 else bank["section_plain"]
            out.append(f"{level} {title.format(n=section, kp=kp)}")
            continue
        image = _IMAGE.match(block.strip())
        if image:
            out.append(f"![{bank['image'].format(kp=kp)}]({image.group(2)})")
            continue
        lines = block.strip().splitlines()
        if all(re.match(r"^\s*(?:[-*+]|\d+[.)])\s+", ln) for ln in lines):
            out.append("\n".join(f"- {s}" for s in take(len(lines))))
            continue
        parts = take(_sentence_count(block)) + glossary_hits(block)
        parts += [bank["link"].format(url=m.group(2)) for m in _LINK.finditer(block)]
        out.append(" ".join(parts))
    # the phrase bank's sentences are shorter than most: keep at least the source's length
    while len("\n\n".join(out)) < len(source.get("body") or ""):
        out.append(" ".join(take(3)))
    body = "\n\n".join(out)
    title = f"{bank['label']}: {source.get('title') or ''}".strip()
    return {
        "title": title[:300],
        "meta_title": f"{kp} – {bank['label']}"[:70] if kp else bank["label"],
        "meta_description": bank["meta"].format(kp=kp)[:156],
        "slug": source.get("slug") or "",
        "excerpt": bank["notice"],
        "body": body,
        "tags": list(source.get("tags") or []),
        "primary_keyphrase": kp,
        "stand_in": True,
    }


def respond(brief: dict) -> str:
    return json.dumps(translate(brief), ensure_ascii=False)
