"""The OFFLINE WRITER: a deterministic stand-in for a real LLM writer (no key, no network).

Registered by the AI layer as the litellm custom provider model ``offline/writer`` (and answers
``offline/researcher`` too), so drafts travel the same client, ledger and budget path as a real
model. ``respond(messages)`` reads the ``BRIEF_JSON: {...}`` line of the last user message and
returns the draft as a JSON string.

Output is seeded by a hash of the brief's topic fields, so the same brief gives the same draft,
while drafts vary in structure, length, keyphrase use, metadata and style. A seeded "defect
profile" (too short, keyword stuffing, long passive sentences, no subheadings, weak metadata, ...)
makes a realistic share of drafts fail the default bars, so both the publish and the
needs_revision paths run. A revision brief (``failing_assessments``) switches off the defects
behind the failing assessments, so a revision scores better. It writes template prose: it is
not a language model and its articles are placeholders, not content to publish for real.
"""

from __future__ import annotations

import hashlib
import json
import random
import re

from allixios.content import readability as rd
from allixios.content.slugs import slugify

MODEL_NAME = "offline/writer"
BRIEF_MARKER = "BRIEF_JSON:"

# defect -> (probability in a first draft, assessments that reveal it)
DEFECTS: dict[str, tuple[float, tuple[str, ...]]] = {
    "short": (0.10, ("text_length", "body_length")),
    "stuffed": (0.07, ("keyphrase_density",)),
    "academic": (0.10, ("flesch_reading_ease", "sentence_length", "passive_voice", "paragraph_length")),
    "no_subheadings": (0.08, ("subheading_distribution", "keyphrase_in_subheadings")),
    "weak_meta": (0.20, ("meta_description_length", "keyphrase_in_meta_description", "keyphrase_in_seo_title",
                         "seo_title_width")),
    "no_images": (0.30, ("images", "image_alt_text")),
    "missing_alt": (0.10, ("image_alt_text",)),
    "no_links": (0.15, ("internal_links", "outbound_links", "generic_anchor_text")),
    "generic_anchor": (0.08, ("generic_anchor_text",)),
    "rare_keyphrase": (0.08, ("keyphrase_density", "keyphrase_in_introduction")),
    "few_transitions": (0.15, ("transition_words",)),
}

# a revision never introduces these: an editor fixing an article does not make it worse
SEVERE_DEFECTS = frozenset({"short", "stuffed", "academic", "no_subheadings", "rare_keyphrase"})

TRANSITION_PREFIXES = ["Also,", "In fact,", "For example,", "Next,", "As a result,", "Then,", "Even so,", "Of course,"]

INTRO = [
    "This guide covers {kp} in plain words.",
    "Many people put off {kp} because it looks like a big job.",
    "If you have been meaning to look at {kp}, this is a good place to start.",
    "The truth is that small steps work best.",
    "You do not need special skills or a big budget.",
    "By the end, you will have a clear plan you can start today.",
    "We will also look at {kw} and how it fits in.",
    "Each part below is short, so you can skim it and come back later.",
]

SECTIONS: dict[str, tuple[list[str], list[str]]] = {
    "what": (
        ["What {kp} really means", "{Kp} in plain words", "The basics you need"],
        [
            "At its core, {kp} is about a few simple habits.",
            "It is not about being perfect.",
            "Most days, doing the right thing is enough.",
            "One small change each week adds up fast.",
            "The hardest part is often the first step.",
            "A good rule is to keep it simple and steady.",
            "Think of {kw} as one piece of the bigger picture.",
            "People who stick with {kp} tend to see results within a few months.",
            "You can start with what you already have.",
        ],
    ),
    "why": (
        ["Why {kp} matters", "The benefits you can expect", "What you gain from {kp}"],
        [
            "A clear plan saves time and stress.",
            "It also helps you make better choices under pressure.",
            "Small wins build confidence, and confidence keeps you going.",
            "Good habits with {kp} pay off for years.",
            "You spend less time fixing problems later.",
            "Because of this, many experts call it a basic skill.",
            "Over time, {kw} gets easier too.",
            "The gains are often bigger than people expect.",
        ],
    ),
    "how": (
        ["How to get started with {kp}", "A simple plan to start", "Your first steps with {kp}"],
        [
            "Start by writing down where you are today.",
            "Pick one goal that you can reach this month.",
            "Set a time each week to check your progress.",
            "Keep notes, even if they are short.",
            "When something works, do more of it.",
            "When it does not, change one thing and try again.",
            "A steady routine makes {kp} feel normal.",
            "Ask a friend to keep you on track.",
        ],
    ),
    "mistakes": (
        ["Common mistakes with {kp}", "Mistakes to avoid", "What to skip"],
        [
            "The most common mistake is trying to do too much at once.",
            "Another one is copying a plan that does not fit your life.",
            "Some people skip the basics and jump to advanced tricks.",
            "Others quit after one bad week.",
            "Watch out for advice that sounds too good to be true.",
            "Ignoring {kw} is a mistake that costs time later.",
            "Most of these problems have easy fixes.",
        ],
    ),
    "tools": (
        ["Tools that help", "Helpful tools for {kp}", "What you need"],
        [
            "You do not need fancy tools to begin.",
            "A notebook or a simple app is enough for most people.",
            "Later, a few extra tools can save time.",
            "Choose tools that are easy to use every day.",
            "Free options are often as good as paid ones.",
            "Good tools make {kp} easier, but habits matter more.",
        ],
    ),
    "progress": (
        ["How to track your progress", "Measure what matters", "Checking your progress with {kp}"],
        [
            "Pick two or three numbers that show real progress.",
            "Check them on the same day each week.",
            "Write down what changed and why.",
            "Small dips are normal, so look at the trend.",
            "Celebrate each goal you reach.",
            "Progress with {kp} is rarely a straight line.",
        ],
    ),
    "faq": (
        ["Questions people ask about {kp}", "Quick answers", "Common questions"],
        [
            "How long does it take? Most people see a change within a few weeks.",
            "Is it expensive? No, you can start for free.",
            "What if I miss a week? Just start again the next day.",
            "Do I need help? Not at first, but a second opinion helps later.",
            "Does {kw} matter? Yes, it supports everything else.",
            "Can I do {kp} alongside a busy job? Yes, short sessions work well.",
        ],
    ),
}
TAKEAWAY = (
    ["Key takeaways", "Next steps", "Putting {kp} into practice"],
    [
        "Start small and keep going.",
        "Pick one step from this guide and do it this week.",
        "Review your plan once a month.",
        "Good results with {kp} come from steady effort, not big leaps.",
        "Come back to this guide whenever you need a reminder.",
    ],
)
LIST_ITEMS = [
    "Set one clear goal", "Block time in your calendar", "Track one simple number", "Review your notes each week",
    "Ask for feedback", "Keep a short checklist", "Remove one distraction", "Start with the easiest task",
    "Write down what worked", "Plan the next step",
]
KEYPHRASE_BOOSTERS = [
    "A steady plan for {kp} pays off over time.",
    "Keep {kp} simple at first.",
    "Small daily steps make {kp} easier.",
    "Many readers tell us {kp} changed how they work.",
    "Give {kp} a fair try for a month.",
    "Notes on {kp} help you see what works.",
]
ACADEMIC = [
    "It is widely recommended by specialists that {kp} be approached methodically, since considerable benefits are typically realised when consistent practices are maintained over extended periods of time.",
    "Considerable attention has been given to {kp} by researchers and practitioners, who have documented that organisational discipline is frequently associated with substantially improved long-term outcomes.",
    "The implementation of {kw} is generally considered to be a prerequisite for sustainable improvement, although significant variation is observed between individuals depending on their circumstances.",
    "Particular emphasis is placed on the systematic evaluation of progress, because deviations from established objectives are more readily identified when comprehensive documentation is maintained.",
    "Unnecessary complications are often introduced when recommendations are applied inconsistently, and the resulting inefficiencies are rarely recognised until considerable resources have been expended.",
    "A comprehensive understanding of {kp} is considered essential by many commentators, since the underlying principles are applicable across a remarkably diverse range of practical situations.",
]


# --------------------------------------------------------------------------- helpers


def _brief_from(messages: list[dict]) -> dict:
    for message in reversed(messages or []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, list):
            content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
        text = str(content or "")
        at = text.rfind(BRIEF_MARKER)
        if at >= 0:
            return json.loads(text[at + len(BRIEF_MARKER):].strip())
        break
    raise ValueError("the offline writer needs a 'BRIEF_JSON: {...}' line in the last user message")


def _rng(*parts) -> random.Random:
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _title_case(text: str) -> str:
    small = {"a", "an", "and", "at", "for", "in", "of", "on", "or", "the", "to", "with"}
    ws = text.split()
    return " ".join(w if (i and w in small) else _cap(w) for i, w in enumerate(ws))


class _Fill:
    """Fills {kp}/{Kp}/{kw} placeholders; {kw} cycles through the brief's other keywords."""

    def __init__(self, kp: str, keywords: list[str], niche: str):
        self.kp = kp
        others = [k for k in keywords if k and k.lower() != kp.lower()]
        self.keywords = others or [niche.lower() or "planning"]
        self.i = 0

    def __call__(self, template: str) -> str:
        kw = self.keywords[self.i % len(self.keywords)]
        if "{kw}" in template:
            self.i += 1
        return template.replace("{Kp}", _cap(self.kp)).replace("{kp}", self.kp).replace("{kw}", kw)


def _pick(rng: random.Random, bank: list[str], n: int, avoid: set[str]) -> list[str]:
    pool = [s for s in bank if s not in avoid] or list(bank)
    rng.shuffle(pool)
    chosen = pool[:n]
    avoid.update(chosen)
    return chosen


def _first_word(s: str) -> str:
    return rd.first_word_key(s)


def _with_transitions(rng: random.Random, sentences: list[str], share: float) -> list[str]:
    out = []
    for s in sentences:
        if not rd.has_transition(s) and rng.random() < share:
            prefix = rng.choice(TRANSITION_PREFIXES)
            if not out or _first_word(out[-1]) != _first_word(prefix):
                s = f"{prefix} {s[0].lower()}{s[1:]}" if not s.startswith("I ") else f"{prefix} {s}"
        out.append(s)
    return out


def _no_repeated_starts(sentences: list[str]) -> list[str]:
    """Reorder so no two neighbours start with the same word (when the mix allows it)."""
    out: list[str] = []
    rest = list(sentences)
    while rest:
        for i, s in enumerate(rest):
            if not out or _first_word(s) != _first_word(out[-1]):
                out.append(rest.pop(i))
                break
        else:
            out.append(rest.pop(0))
    return out


# --------------------------------------------------------------------------- drafting


def choose_defects(brief: dict) -> set[str]:
    """The seeded defect profile of this brief; a revision drops the defects its failing assessments reveal."""
    rng = _rng("defects", brief.get("title"), brief.get("keyphrase"), brief.get("niche"), brief.get("revision", 0))
    failing = {f["id"] if isinstance(f, dict) else str(f) for f in brief.get("failing_assessments") or []}
    revising = bool(failing) or bool(brief.get("previous_body"))
    defects = set()
    for name, (probability, reveals) in DEFECTS.items():
        if revising and (failing & set(reveals) or name in SEVERE_DEFECTS):
            continue
        if rng.random() < probability * (0.3 if revising else 1.0):
            defects.add(name)
    if "short" in defects:
        defects.discard("stuffed")  # a 150-word text stuffed reads as nonsense even for a stand-in
    return defects


def _paragraphs_for(rng, fill, bank: list[str], count: int, size: tuple[int, int], used: set[str]) -> list[list[str]]:
    paragraphs = []
    for _ in range(count):
        n = rng.randint(*size)
        paragraphs.append([fill(s) for s in _pick(rng, bank, n, used)])
    return paragraphs


def _keyphrase_hits(sentences: list[str], kp: str) -> int:
    key = rd.content_words(kp)
    total = 0
    for s in sentences:
        ws = rd.normalized_words(s)
        total += min((ws.count(k) for k in key), default=0)
    return total


def write_draft(brief: dict) -> dict:
    """The draft for a brief as a dict (``respond`` returns it as JSON)."""
    title = str(brief.get("title") or "Untitled").strip()
    kp = " ".join(str(brief.get("keyphrase") or title).lower().split())
    niche = str(brief.get("niche") or "").strip()
    keywords = [str(k) for k in brief.get("keywords") or []]
    rng = _rng("draft", title, kp, niche, brief.get("revision", 0), sorted(brief.get("failing_assessments") or [], key=str))
    defects = choose_defects(brief)
    fill = _Fill(kp, keywords, niche)
    used: set[str] = set()
    academic = "academic" in defects
    sentence_size = (3, 5) if not academic else (4, 6)

    # introduction: the keyphrase in one sentence unless the keyphrase is "rare"
    intro = [fill(s) for s in _pick(rng, INTRO[3:], rng.randint(2, 3), used)]
    if "rare_keyphrase" not in defects:
        intro.insert(0, fill(rng.choice(INTRO[:3])))
    else:
        intro.insert(0, "This guide covers the basics in plain words.")

    # sections
    n_sections = 2 if "short" in defects else rng.randint(4, 6)
    kinds = rng.sample(list(SECTIONS), n_sections)
    sections: list[tuple[str, list[list[str]], list[str]]] = []  # heading, paragraphs, list items
    key_headings = max(1, round(n_sections * rng.uniform(0.34, 0.6)))
    for i, kind in enumerate(kinds):
        headings, bank = SECTIONS[kind]
        with_key = [h for h in headings if "{kp}" in h.lower()]
        plain = [h for h in headings if "{kp}" not in h.lower()]
        heading = fill(rng.choice(with_key if (i < key_headings and with_key) else plain or headings))
        n_paragraphs = 1 if "short" in defects else rng.randint(1, 3)
        size = (2, 3) if "short" in defects else sentence_size
        paragraphs = _paragraphs_for(rng, fill, bank, n_paragraphs, size, used)
        items = []
        if kind in ("how", "tools") and not academic and "short" not in defects:
            items = rng.sample(LIST_ITEMS, rng.randint(3, 5))
        sections.append((heading, paragraphs, items))
    if "short" not in defects:
        headings, bank = TAKEAWAY
        sections.append((fill(rng.choice(headings)), _paragraphs_for(rng, fill, bank, 1, (3, 4), used), []))

    if academic:  # long passive sentences replace most of the plain prose
        for _, paragraphs, _ in sections:
            for p in paragraphs:
                for j in range(len(p)):
                    if rng.random() < 0.75:
                        p[j] = fill(rng.choice(ACADEMIC))
        # and each section becomes one long paragraph
        sections = [(h, [[s for p in ps for s in p]], items) for h, ps, items in sections]

    # keyphrase density: aim for 0.6-2.5 % (or stuff it / starve it when that is the defect)
    def body_sentences():
        return intro + [s for _, ps, _ in sections for p in ps for s in p]

    def word_count():
        return sum(len(rd.words(s)) for s in body_sentences()) + sum(len(rd.words(i)) for _, _, items in sections for i in items)

    paragraphs_flat = [p for _, ps, _ in sections for p in ps]
    if "stuffed" in defects:
        while _keyphrase_hits(body_sentences(), kp) < 0.05 * word_count():
            rng.choice(paragraphs_flat).append(fill(rng.choice(KEYPHRASE_BOOSTERS)))
    elif "rare_keyphrase" in defects:
        for p in paragraphs_flat:
            for j, s in enumerate(p):
                if _keyphrase_hits([s], kp):
                    p[j] = "It pays to keep things simple."
    else:
        floor = max(2, int(0.006 * word_count()) + 1)
        guard = 0
        while _keyphrase_hits(body_sentences(), kp) < floor and guard < 30:
            rng.choice(paragraphs_flat).append(fill(rng.choice(KEYPHRASE_BOOSTERS)))
            guard += 1

    share = 0.0 if "few_transitions" in defects else rng.uniform(0.3, 0.45)
    intro = _with_transitions(rng, _no_repeated_starts(intro[:1]) + _no_repeated_starts(intro[1:]), share / 2)
    # like a sensible model, the slug is built from the words of the title, never from markup in it
    slug = _slug_for(re.sub(r"<[^>]*>", " ", title), re.sub(r"<[^>]*>", " ", kp))

    # images and links
    images = []
    if "no_images" not in defects and "short" not in defects:
        for n in range(rng.randint(1, 3)):
            alt = "" if ("missing_alt" in defects and n == 0) else (
                f"{_cap(kp)} example" if n == 0 else f"A simple setup for {rng.choice(fill.keywords)}")
            images.append(f"![{alt}](/images/{slug}-{n + 1}.jpg)")
    links_internal: list[str] = []
    link_outbound = ""
    if "no_links" not in defects:
        for target in (brief.get("internal_links") or [])[:2]:
            links_internal.append(f"[{target.get('title', target['slug'])}](/{target['slug']})")
        if rng.random() < 0.15:  # a link to a page that may not exist, as real writers produce
            links_internal.append(f"[our guide to {fill.keywords[0]}](/{slugify(fill.keywords[0])}-guide)")
        anchor = "click here" if "generic_anchor" in defects else f"background reading on {kp}"
        link_outbound = f"[{anchor}](https://en.wikipedia.org/wiki/{'_'.join(_cap(w) for w in kp.split())})"

    # assemble Markdown
    lines: list[str] = [" ".join(intro), ""]
    if images:
        lines += [images[0], ""]
    for n, (heading, paragraphs, items) in enumerate(sections):
        if "no_subheadings" not in defects:
            lines += [f"## {heading}", ""]
        for k, p in enumerate(paragraphs):
            text = " ".join(_with_transitions(rng, _no_repeated_starts(p), share))
            if k == 0 and n == 1 and link_outbound:
                text += f" For more depth, see this {link_outbound}."
            if k == len(paragraphs) - 1 and n == len(sections) - 1 and links_internal:
                text += " Related reading: " + ", ".join(links_internal) + "."
            lines += [text, ""]
        if items:
            numbered = rng.random() < 0.5
            lines += [f"{m + 1}. {item}" if numbered else f"- {item}" for m, item in enumerate(items)] + [""]
        if n + 1 < len(images):
            lines += [images[n + 1], ""]
    body = "\n".join(lines).strip() + "\n"

    return {
        "title": title,
        "meta_title": _meta_title(rng, title, kp, "weak_meta" in defects),
        "meta_description": _meta_description(rng, kp, niche, "weak_meta" in defects),
        "slug": slug,
        "excerpt": " ".join(rd.sentences(" ".join(intro))[:2]),
        "body": body,
        "tags": _tags(kp, keywords, niche),
        "primary_keyphrase": kp,
    }


def _slug_for(title: str, kp: str) -> str:
    slug = slugify(title, max_chars=60)
    if not set(rd.content_words(kp)) <= {rd.normalize(w) for w in slug.split("-")}:
        slug = slugify(f"{kp} {title}", max_chars=60)
    return slug


def _meta_title(rng: random.Random, title: str, kp: str, weak: bool) -> str:
    from allixios.content.scoring import TITLE_MAX_PX, title_width_px

    if weak:
        return title
    tails = ["A Simple Guide", "What Works", "A Practical Guide", "Tips That Work", "Start Here", "The Basics"]
    rng.shuffle(tails)
    for tail in tails:
        candidate = f"{_title_case(kp)}: {tail}"
        if title_width_px(candidate) <= TITLE_MAX_PX - 40:
            return candidate
    return _title_case(kp)


def _meta_description(rng: random.Random, kp: str, niche: str, weak: bool) -> str:
    if weak:
        return f"A short guide with tips for {niche.lower() or 'beginners'}."
    area = niche.lower() or "your plans"
    templates = [
        f"Learn {kp} with clear steps, simple tips and the common mistakes to avoid, so you can make real progress in {area}.",
        f"A practical guide to {kp}: what it means, how to start this week and how to track your progress without wasting time.",
        f"Get started with {kp} today. Simple steps, useful tools and honest advice to help you build habits that last in {area}.",
    ]
    rng.shuffle(templates)
    fillers = [" Start today.", " It is easier than you think.", " No jargon."]
    for text in templates:
        for filler in [""] + fillers:
            if 121 <= len(text + filler) <= 156:
                return text + filler
    text = templates[0]
    return text if len(text) <= 156 else text[:150].rsplit(" ", 1)[0] + "..."


def _tags(kp: str, keywords: list[str], niche: str) -> list[str]:
    tags: list[str] = []
    for t in [kp, *keywords, niche]:
        t = " ".join(str(t).lower().split())
        if t and t not in tags:
            tags.append(t)
    return tags[:6]


# --------------------------------------------------------------------------- research

RESEARCH_PATTERNS = [
    ("{Kw} for Beginners: What to Know First", "{kw} for beginners"),
    ("Common {Kw} Mistakes and How to Avoid Them", "{kw} mistakes"),
    ("How to Choose the Right Approach to {Kw}", "choosing {kw}"),
    ("{Kw} on a Budget", "{kw} on a budget"),
    ("A Weekly {Kw} Routine That Works", "{kw} routine"),
    ("{Kw}: Tools and Resources Worth Using", "{kw} tools"),
]


def research_topics(brief: dict) -> dict:
    """Expand seed keywords into candidate topics: {"topics": [{title, keyphrase, keywords}]}."""
    seeds = [str(k).strip() for k in brief.get("seed_keywords") or [] if str(k).strip()]
    count = max(0, int(brief.get("count") or 3))
    exclude = {str(t).strip().lower() for t in brief.get("exclude_titles") or []}
    rng = _rng("research", brief.get("niche"), seeds, brief.get("day"))
    ideas = [(kw, pattern) for kw in seeds for pattern in RESEARCH_PATTERNS]
    rng.shuffle(ideas)
    topics = []
    for kw, (title_tpl, kp_tpl) in ideas:
        title = title_tpl.replace("{Kw}", _title_case(kw)).replace("{kw}", kw.lower())
        if title.lower() in exclude:
            continue
        topics.append({"title": title, "keyphrase": kp_tpl.replace("{kw}", kw.lower()), "keywords": [kw.lower()]})
        if len(topics) >= count:
            break
    return {"topics": topics}


def respond(messages: list[dict]) -> str:
    """Answer a chat request as the offline writer/researcher: the JSON text a real model would return."""
    brief = _brief_from(messages)
    if brief.get("task") == "research":
        return json.dumps(research_topics(brief))
    if brief.get("task") == "translate":  # the stand-in translator (it cannot translate; see its module)
        from allixios.content.standin_translator import respond as stand_in_translation

        return stand_in_translation(brief)
    draft = write_draft(brief)
    text = json.dumps(draft, ensure_ascii=False)
    # real models sometimes fence their JSON; the parser has to cope
    if _rng("fence", brief.get("title"), brief.get("keyphrase")).random() < 0.2:
        text = f"```json\n{text}\n```"
    return re.sub(r"\s+$", "", text)
