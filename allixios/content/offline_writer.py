"""The OFFLINE WRITER: a deterministic stand-in for a real LLM writer (no key, no network).

Registered by the AI layer as the litellm custom provider model ``offline/writer`` (and answers
``offline/researcher`` too), so drafts travel the same client, ledger and budget path as a real
model. ``respond(messages)`` reads the ``BRIEF_JSON: {...}`` line of the last user message and
returns the draft as a JSON string.

It writes plausible, varied template prose and nothing more. It knows nothing about the scorer:
it imports no scoring code, measures nothing against a scoring band, and its flaws are properties
of text a hurried writer produces — too short, no subheadings, a stuffed keyphrase, long formal
sentences, the topic named late, no images or links, a terse meta description — drawn by seeded
randomness (``TEXT_FLAWS``). Whether a draft passes the bars is whatever the scorer says.

A revision brief (``previous_body``) is answered by ``revise_text``: a generic editor's pass over
the CURRENT text (which may be a real article, not one of ours) — expand thin text with sections
from the outline, add subheadings to long runs of paragraphs, split overlong sentences, thin out a
repeated keyphrase, name the topic in the opening, add related links — driven by what it sees in
the text and, like a human editor, by the words of the feedback it was given. Whether the revision
scores better is measured by the scorer, never built in.

Output is seeded by the brief's topic fields (and the version being revised), so the same brief
gives the same text. It is not a language model: its articles are placeholders, marked as stand-in
content wherever they show (site, API, marts).
"""

from __future__ import annotations

import hashlib
import json
import random
import re

from allixios.content.slugs import slugify

MODEL_NAME = "offline/writer"
BRIEF_MARKER = "BRIEF_JSON:"

# flaw -> probability in a first draft. Each is a property of the TEXT, not of any assessment.
TEXT_FLAWS: dict[str, float] = {
    "too_short": 0.10,  # two thin sections, no takeaway
    "stuffed_keyphrase": 0.07,  # the keyphrase repeated in almost every paragraph
    "long_sentences": 0.10,  # long, formal, passive sentences in one long paragraph per section
    "no_subheadings": 0.08,  # one run of paragraphs
    "topic_named_late": 0.08,  # the opening never names the keyphrase
    "terse_metadata": 0.15,  # the title reused as meta title, a one-line meta description
    "no_images": 0.30,
    "missing_alt": 0.10,
    "no_links": 0.15,
    "generic_anchor": 0.08,  # "click here"
    "plain_connectives": 0.15,  # few connectives between sentences
}

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

_WORD = re.compile(r"[A-Za-z0-9']+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text.strip()) if s]


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
    ws = _words(s)
    return ws[0].lower() if ws else ""


_PREFIX_WORDS = {_first_word(p) for p in TRANSITION_PREFIXES}


def _with_connectives(rng: random.Random, sentences: list[str], share: float) -> list[str]:
    """The writer's habit of opening some sentences with a connective (share = how often)."""
    out = []
    for s in sentences:
        if _first_word(s) not in _PREFIX_WORDS and rng.random() < share:
            prefix = rng.choice(TRANSITION_PREFIXES)
            if not out or _first_word(out[-1]) != _first_word(prefix):
                s = f"{prefix} {s[0].lower()}{s[1:]}" if not s.startswith("I ") else f"{prefix} {s}"
        out.append(s)
    return out


def _varied_openings(sentences: list[str]) -> list[str]:
    """Reorder so no two neighbours start with the same word (when the mix allows it): plain style."""
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


def _mentions(text: str, kp: str) -> bool:
    return kp.lower() in text.lower()


# --------------------------------------------------------------------------- drafting


def choose_flaws(brief: dict) -> set[str]:
    """The seeded flaws of this brief's first draft (text properties, see ``TEXT_FLAWS``)."""
    rng = _rng("flaws", brief.get("title"), brief.get("keyphrase"), brief.get("niche"))
    flaws = {name for name, probability in TEXT_FLAWS.items() if rng.random() < probability}
    if "too_short" in flaws:
        flaws.discard("stuffed_keyphrase")  # a 150-word text stuffed reads as nonsense even for a stand-in
    return flaws


def _paragraphs_for(rng, fill, bank: list[str], count: int, size: tuple[int, int], used: set[str]) -> list[list[str]]:
    return [[fill(s) for s in _pick(rng, bank, rng.randint(*size), used)] for _ in range(count)]


def _outline(rng: random.Random, fill: _Fill, kinds: list[str]) -> list[str]:
    """Section headings for the given section kinds (about half name the keyphrase, as writers do)."""
    headings = []
    for kind in kinds:
        options = SECTIONS[kind][0] if kind in SECTIONS else TAKEAWAY[0]
        headings.append(fill(rng.choice(options)))
    return headings


def write_draft(brief: dict) -> dict:
    """A first draft for a brief as a dict (``respond`` returns it as JSON); revisions: ``revise_text``."""
    if brief.get("previous_body"):
        return revise_text(brief)
    title = str(brief.get("title") or "Untitled").strip()
    kp = " ".join(str(brief.get("keyphrase") or title).lower().split())
    niche = str(brief.get("niche") or "").strip()
    keywords = [str(k) for k in brief.get("keywords") or []]
    rng = _rng("draft", title, kp, niche)
    flaws = choose_flaws(brief)
    fill = _Fill(kp, keywords, niche)
    used: set[str] = set()
    formal = "long_sentences" in flaws
    short = "too_short" in flaws

    intro = [fill(s) for s in _pick(rng, INTRO[3:], rng.randint(2, 3), used)]
    intro.insert(0, "This guide covers the basics in plain words." if "topic_named_late" in flaws
                 else fill(rng.choice(INTRO[:3])))

    kinds = rng.sample(list(SECTIONS), 2 if short else rng.randint(4, 6))
    headings = _outline(rng, fill, kinds)
    sections: list[tuple[str, list[list[str]], list[str]]] = []  # heading, paragraphs, list items
    for kind, heading in zip(kinds, headings, strict=True):
        bank = SECTIONS[kind][1]
        paragraphs = _paragraphs_for(rng, fill, bank, 1 if short else rng.randint(1, 3),
                                     (2, 3) if short else (4, 6) if formal else (3, 5), used)
        items = rng.sample(LIST_ITEMS, rng.randint(3, 5)) if kind in ("how", "tools") and not (formal or short) else []
        sections.append((heading, paragraphs, items))
    if not short:
        sections.append((fill(rng.choice(TAKEAWAY[0])), _paragraphs_for(rng, fill, TAKEAWAY[1], 1, (3, 4), used), []))

    if formal:  # long formal sentences replace most of the plain prose, one long paragraph per section
        for _, paragraphs, _ in sections:
            for p in paragraphs:
                for j in range(len(p)):
                    if rng.random() < 0.75:
                        p[j] = fill(rng.choice(ACADEMIC))
        sections = [(h, [[s for p in ps for s in p]], items) for h, ps, items in sections]

    # how often the writer comes back to the keyphrase is a trait of this draft, not a target
    paragraphs_flat = [p for _, ps, _ in sections for p in ps]
    if "stuffed_keyphrase" in flaws:
        for p in paragraphs_flat:
            p.extend(fill(s) for s in rng.sample(KEYPHRASE_BOOSTERS, rng.randint(2, 3)))
    elif "topic_named_late" not in flaws:
        for p in rng.sample(paragraphs_flat, max(1, round(len(paragraphs_flat) * rng.uniform(0.2, 0.5)))):
            p.insert(rng.randint(0, len(p)), fill(rng.choice(KEYPHRASE_BOOSTERS)))

    share = 0.05 if "plain_connectives" in flaws else rng.uniform(0.25, 0.45)
    intro = _with_connectives(rng, intro[:1] + _varied_openings(intro[1:]), share / 2)
    # like a sensible model, the slug is built from the words of the title, never from markup in it
    slug = _slug_for(re.sub(r"<[^>]*>", " ", title), re.sub(r"<[^>]*>", " ", kp))

    images = []
    if "no_images" not in flaws and not short:
        for n in range(rng.randint(1, 3)):
            alt = "" if ("missing_alt" in flaws and n == 0) else (
                f"{_cap(kp)} example" if n == 0 else f"A simple setup for {rng.choice(fill.keywords)}")
            images.append(f"![{alt}](/images/{slug}-{n + 1}.jpg)")
    links_internal = _related_links(rng, brief, fill) if "no_links" not in flaws else []
    link_outbound = "" if "no_links" in flaws else _outbound_link(kp, "click here" if "generic_anchor" in flaws else None)

    lines: list[str] = [" ".join(intro), ""]
    if images:
        lines += [images[0], ""]
    for n, (heading, paragraphs, items) in enumerate(sections):
        if "no_subheadings" not in flaws:
            lines += [f"## {heading}", ""]
        for k, p in enumerate(paragraphs):
            text = " ".join(_with_connectives(rng, _varied_openings(p), share))
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

    terse = "terse_metadata" in flaws
    return {
        "title": title,
        "meta_title": title if terse else _meta_title(rng, kp),
        "meta_description": _meta_description(rng, kp, niche, terse),
        "slug": slug,
        "excerpt": " ".join(_sentences(" ".join(intro))[:2]),
        "body": body,
        "tags": _tags(kp, keywords, niche),
        "primary_keyphrase": kp,
    }


def _related_links(rng: random.Random, brief: dict, fill: _Fill) -> list[str]:
    links = [f"[{t.get('title', t['slug'])}](/{t['slug']})" for t in (brief.get("internal_links") or [])[:2]]
    if rng.random() < 0.15:  # a link to a page that may not exist, as real writers produce
        links.append(f"[our guide to {fill.keywords[0]}](/{slugify(fill.keywords[0])}-guide)")
    return links


def _outbound_link(kp: str, anchor: str | None = None) -> str:
    return f"[{anchor or f'background reading on {kp}'}](https://en.wikipedia.org/wiki/{'_'.join(_cap(w) for w in kp.split())})"


def _slug_for(title: str, kp: str) -> str:
    slug = slugify(title, max_chars=60)
    if not set(slugify(kp).split("-")) <= set(slug.split("-")):
        slug = slugify(f"{kp} {title}", max_chars=60)
    return slug


def _meta_title(rng: random.Random, kp: str) -> str:
    """The keyphrase and a short tail, as the prompt asks (no width measured: long keyphrases make long titles)."""
    return f"{_title_case(kp)}: {rng.choice(['A Simple Guide', 'What Works', 'A Practical Guide', 'Tips That Work', 'Start Here', 'The Basics'])}"


def _meta_description(rng: random.Random, kp: str, niche: str, terse: bool) -> str:
    if terse:
        return f"A short guide with tips for {niche.lower() or 'beginners'}."
    area = niche.lower() or "your plans"
    templates = [
        f"Learn {kp} with clear steps, simple tips and the common mistakes to avoid.",
        f"Learn {kp} with clear steps, simple tips and the common mistakes to avoid, so you can make real progress in {area}.",
        f"A practical guide to {kp}: what it means, how to start this week and how to track your progress without wasting time.",
        f"Get started with {kp} today. Simple steps, useful tools and honest advice to help you build habits that last.",
        f"Everything a beginner needs to know about {kp}, from the first steps to the habits that keep it going in {area}.",
    ]
    return rng.choice(templates)


def _tags(kp: str, keywords: list[str], niche: str) -> list[str]:
    tags: list[str] = []
    for t in [kp, *keywords, niche]:
        t = " ".join(str(t).lower().split())
        if t and t not in tags:
            tags.append(t)
    return tags[:6]


# --------------------------------------------------------------------------- revising

# a sentence this long reads as a wall; editors split it
LONG_SENTENCE_WORDS = 25
THIN_TEXT_WORDS = 600
PARAGRAPHS_PER_HEADING = 3
_SPLIT_AT = re.compile(r",\s+(?:and|but|which|since|although|because|while|so)\s+|;\s+")
_FENCE_LINE = re.compile(r"^\s*(```|~~~)")


def _blocks(body: str) -> list[str]:
    """The body's blank-line separated blocks; a fenced code block stays one block."""
    blocks: list[str] = []
    current: list[str] = []
    fenced = False
    for line in body.splitlines():
        if _FENCE_LINE.match(line):
            fenced = not fenced
        if not line.strip() and not fenced:
            if current:
                blocks.append("\n".join(current))
                current = []
            continue
        current.append(line)
    if current:
        blocks.append("\n".join(current))
    return blocks


def _is_prose(block: str) -> bool:
    """A plain paragraph an editor may rewrite (not a heading, list, quote, table, image, code or HTML)."""
    first = block.lstrip()
    return bool(first) and not re.match(r"(#|[-*+]\s|\d+[.)]\s|>|!\[|\||```|~~~|<|\s{4})", block) and "\n=" not in block \
        and "\n-" not in block


def _split_sentence(sentence: str) -> list[str]:
    if len(_words(sentence)) <= LONG_SENTENCE_WORDS or "`" in sentence or "](" in sentence:
        return [sentence]
    m = _SPLIT_AT.search(sentence, len(sentence) // 4)
    if not m or m.end() >= len(sentence) - 20:
        return [sentence]
    head = sentence[: m.start()].rstrip(",;") + "."
    tail = _cap(sentence[m.end():].lstrip())
    if m.group(0).strip(", ").startswith("which"):
        tail = "This " + sentence[m.end():].lstrip()
    return [head, *_split_sentence(tail)]


def _feedback_words(brief: dict) -> str:
    """The feedback as an editor reads it: the words of each note (its name and message), nothing more."""
    notes = []
    for f in brief.get("failing_assessments") or []:
        if isinstance(f, dict):
            notes.append(f"{str(f.get('id', '')).replace('_', ' ')} {f.get('detail', '')}")
        else:
            notes.append(str(f).replace("_", " "))
    return " ".join(notes).lower()


def revise_text(brief: dict) -> dict:
    """A generic editor's pass over ``previous_body`` (see the module docstring); same keys as a draft."""
    title = str(brief.get("title") or "Untitled").strip()
    kp = " ".join(str(brief.get("keyphrase") or title).lower().split())
    niche = str(brief.get("niche") or "").strip()
    keywords = [str(k) for k in brief.get("keywords") or []]
    rng = _rng("revise", title, kp, niche, brief.get("revision", 0))
    fill = _Fill(kp, keywords, niche)
    feedback = _feedback_words(brief)
    blocks = _blocks(str(brief.get("previous_body") or ""))
    edits: list[str] = []

    # 1. split overlong sentences in prose paragraphs
    for i, block in enumerate(blocks):
        if _is_prose(block):
            sentences = [part for s in _sentences(" ".join(block.split())) for part in _split_sentence(s)]
            rewritten = " ".join(sentences)
            if rewritten != " ".join(block.split()):
                blocks[i] = rewritten
                edits.append("split long sentences")

    # 2. thin out a keyphrase repeated within one paragraph (keep the first mention)
    for i, block in enumerate(blocks):
        if _is_prose(block) and block.lower().count(kp) > 2:
            kept, seen = [], 0
            for s in _sentences(block):
                seen += _mentions(s, kp)
                if not (_mentions(s, kp) and seen > 1 and s in {fill(b) for b in KEYPHRASE_BOOSTERS}):
                    kept.append(s)
            if len(kept) < len(_sentences(block)):
                blocks[i] = " ".join(kept)
                edits.append("removed repeated keyphrase sentences")

    # 3. name the topic in the opening paragraph
    first_prose = next((i for i, b in enumerate(blocks) if _is_prose(b)), None)
    if kp and (first_prose is None or not _mentions(blocks[first_prose], kp)):
        opener = f"This article looks at {kp}."
        if first_prose is None:
            blocks.insert(0, opener)
        else:
            blocks[first_prose] = f"{opener} {blocks[first_prose]}"
        edits.append("named the topic in the opening")

    # 4. expand thin text with sections from the outline the text does not cover yet
    words = sum(len(_words(b)) for b in blocks)
    used: set[str] = set()
    kinds = [k for k in SECTIONS if not any(_cap(fill(h)).lower() in " ".join(blocks).lower() for h in SECTIONS[k][0])]
    rng.shuffle(kinds)
    while words < THIN_TEXT_WORDS and kinds:
        kind = kinds.pop()
        heading = fill(rng.choice(SECTIONS[kind][0]))
        paragraphs = _paragraphs_for(rng, fill, SECTIONS[kind][1], 2, (3, 5), used)
        blocks += [f"## {heading}"] + [" ".join(_varied_openings(p)) for p in paragraphs]
        words += len(_words(heading)) + sum(len(_words(s)) for p in paragraphs for s in p)
        edits.append(f"added a section: {heading}")

    # 5. subheadings for long runs of paragraphs without one
    out: list[str] = []
    run = 0
    outline = [fill(h) for k in SECTIONS for h in SECTIONS[k][0][:1]]
    rng.shuffle(outline)
    for i, block in enumerate(blocks):
        if block.startswith("#"):
            run = 0
        elif _is_prose(block):
            run += 1
            if run > PARAGRAPHS_PER_HEADING and i > 0 and outline and i < len(blocks) - 1:
                out.append(f"## {outline.pop()}")
                edits.append("added a subheading")
                run = 1
        out.append(block)
    blocks = out

    # 6. what the feedback asks for in so many words: links and images
    if "link" in feedback and "](" not in " ".join(blocks):
        related = _related_links(rng, brief, fill)
        blocks.append(f"For more depth, see this {_outbound_link(kp)}."
                      + (" Related reading: " + ", ".join(related) + "." if related else ""))
        edits.append("added links")
    if "image" in feedback and "![" not in " ".join(blocks):
        at = next((i + 1 for i, b in enumerate(blocks) if _is_prose(b)), 0)
        blocks.insert(at, f"![{_cap(kp)} example](/images/{slugify(title, max_chars=60)}-1.jpg)")
        edits.append("added an image")

    body = "\n\n".join(blocks).strip() + "\n"
    first = next((b for b in blocks if _is_prose(b)), "")
    return {
        "title": title,
        "meta_title": _meta_title(rng, kp),
        "meta_description": _meta_description(rng, kp, niche, False),
        "slug": _slug_for(re.sub(r"<[^>]*>", " ", title), re.sub(r"<[^>]*>", " ", kp)),
        "excerpt": " ".join(_sentences(first)[:2])[:300],
        "body": body,
        "tags": _tags(kp, keywords, niche),
        "primary_keyphrase": kp,
        "revision_notes": sorted(set(edits)),
    }


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
