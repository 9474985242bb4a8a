"""Prompts in, validated and sanitized drafts out (sanitised by allixios.content.markup).

Prompt templates live in ``allixios/content/prompts/<version>.txt`` (``### system`` / ``### user``
sections, ``$name`` placeholders); their version id is recorded on every article. The last user
message ends with ``BRIEF_JSON: {...}``, the machine-readable brief (the offline writer reads it;
real models read the prose). ``parse_draft`` is the LLM layer's validator: it raises ValueError on
malformed output so the call is retried, then reported.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

from allixios.content.markup import plain_line, sanitize_markdown
from allixios.content.slugs import slugify
from allixios.errors import ConfigError

PROMPTS_DIR = Path(__file__).parent / "prompts"
DRAFT_PROMPT = "draft_v1"
REVISE_PROMPT = "revise_v1"
RESEARCH_PROMPT = "research_v1"

MAX_TITLE_CHARS = 300
MAX_META_CHARS = 1000
MAX_BODY_CHARS = 200_000
MAX_TAGS = 10


# --------------------------------------------------------------------------- prompts


@dataclass(frozen=True)
class PromptTemplate:
    version: str
    system: str
    user: str

    def render(self, **values: str) -> list[dict]:
        try:
            return [
                {"role": "system", "content": Template(self.system).substitute(values).strip()},
                {"role": "user", "content": Template(self.user).substitute(values).strip()},
            ]
        except KeyError as exc:
            raise ConfigError(f"prompt {self.version} needs a value for ${exc.args[0]}",
                              fix="pass every placeholder of the template") from None


@functools.lru_cache(maxsize=32)
def load_prompt(version: str) -> PromptTemplate:
    path = PROMPTS_DIR / f"{version}.txt"
    if not re.fullmatch(r"[a-z0-9_]+", version) or not path.is_file():
        available = ", ".join(sorted(p.stem for p in PROMPTS_DIR.glob("*.txt")))
        raise ConfigError(f"no prompt template {version!r}", fix=f"use one of {available}")
    text = path.read_text()
    parts = re.split(r"^### (system|user)\s*$", text, flags=re.M)
    sections = dict(zip(parts[1::2], parts[2::2], strict=True))
    if set(sections) != {"system", "user"}:
        raise ConfigError(f"prompt template {path.name} needs '### system' and '### user' sections")
    return PromptTemplate(version, sections["system"], sections["user"])


@dataclass(frozen=True)
class DraftBrief:
    """What the writer needs to know about one article."""

    title: str
    keyphrase: str
    keywords: tuple[str, ...] = ()
    niche: str = ""
    internal_links: tuple[dict, ...] = ()  # [{slug, title}] of published articles worth linking
    previous: dict | None = None  # for a revision: the current version's fields (title, body, ...)
    failing_assessments: tuple[dict, ...] = ()  # [{id, detail}] the revision must fix
    revision: int = 0  # the version being replaced (varies the revision's seed)

    def as_json(self) -> dict:
        out: dict = {"title": self.title, "keyphrase": self.keyphrase, "keywords": list(self.keywords),
                     "niche": self.niche, "internal_links": list(self.internal_links)}
        if self.previous is not None:
            out["previous_body"] = self.previous.get("body") or self.previous.get("content") or ""
            out["failing_assessments"] = list(self.failing_assessments)
            out["revision"] = self.revision
        return out


def build_draft_messages(brief: DraftBrief) -> tuple[list[dict], str]:
    """Chat messages for a first draft (or a revision when ``brief.previous`` is set) and the prompt version."""
    version = REVISE_PROMPT if brief.previous is not None else DRAFT_PROMPT
    links = ", ".join(f"/{x['slug']} ({x.get('title', '')})" for x in brief.internal_links) or "none yet"
    values = {
        "niche": brief.niche or "a general audience",
        "title": brief.title,
        "keyphrase": brief.keyphrase,
        "keywords": ", ".join(brief.keywords) or brief.keyphrase,
        "internal_links": links,
        "brief_json": json.dumps(brief.as_json(), ensure_ascii=False),
    }
    if brief.previous is not None:
        values["failing"] = "\n".join(f"- {f['id']}: {f.get('detail', '')}" for f in brief.failing_assessments) or "- none"
        values["previous_body"] = brief.as_json()["previous_body"]
    return load_prompt(version).render(**values), version


def build_research_messages(niche: str, seed_keywords: list[str], count: int, exclude_titles: list[str],
                            day: str) -> tuple[list[dict], str]:
    brief = {"task": "research", "niche": niche, "seed_keywords": seed_keywords, "count": count,
             "exclude_titles": exclude_titles, "day": day}
    messages = load_prompt(RESEARCH_PROMPT).render(
        niche=niche, count=str(count), seed_keywords=", ".join(seed_keywords) or "(none)",
        exclude_titles="; ".join(exclude_titles) or "(none)", brief_json=json.dumps(brief, ensure_ascii=False),
    )
    return messages, RESEARCH_PROMPT


# --------------------------------------------------------------------------- sanitizing
# Bodies go through markup.sanitize_markdown and one-line fields through markup.plain_line: the one
# parse + sanitiser (markdown-it + nh3) shared with editors' edits and the site renderer.


# --------------------------------------------------------------------------- parsing

_FENCE = re.compile(r"^\s*```(?:json|JSON)?\s*(.*?)\s*```\s*$", re.S)
REQUIRED = ("title", "body", "meta_title", "meta_description")


@dataclass(frozen=True)
class Draft:
    title: str
    meta_title: str
    meta_description: str
    slug: str
    excerpt: str
    body: str
    tags: tuple[str, ...] = field(default_factory=tuple)
    primary_keyphrase: str = ""

    def article_fields(self) -> dict:
        """The article columns this draft fills (``content`` is the Markdown body)."""
        return {"title": self.title, "content": self.body, "slug": self.slug, "meta_title": self.meta_title,
                "meta_description": self.meta_description, "excerpt": self.excerpt, "tags": list(self.tags),
                "primary_keyphrase": self.primary_keyphrase}


def _json_object(text: str) -> dict:
    if not isinstance(text, str) or not text.strip():
        raise ValueError("the model returned no text")
    m = _FENCE.match(text)
    raw = m.group(1) if m else text.strip()
    if not raw.startswith("{"):
        start, end = raw.find("{"), raw.rfind("}")
        if start < 0 or end <= start:
            raise ValueError("the model's answer contains no JSON object")
        raw = raw[start : end + 1]
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the model's answer is not valid JSON: {exc.msg} at position {exc.pos}") from None
    if not isinstance(value, dict):
        raise ValueError(f"the model's answer is a JSON {type(value).__name__}, not an object")
    return value


def _string(value: dict, key: str, limit: int, required: bool) -> str:
    raw = value.get(key)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            raise ValueError(f"the draft has no {key}")
        return ""
    if not isinstance(raw, str):
        raise ValueError(f"the draft's {key} is a {type(raw).__name__}, not a string")
    if len(raw) > limit:
        raise ValueError(f"the draft's {key} is {len(raw)} characters long (at most {limit})")
    return raw


def parse_draft(text: str, default_keyphrase: str = "") -> Draft:
    """Validate and sanitize a model's JSON draft; ValueError names what is wrong."""
    value = _json_object(text)
    missing = [k for k in REQUIRED if k not in value]
    if missing:
        raise ValueError(f"the draft is missing {', '.join(missing)}")
    title = plain_line(_string(value, "title", MAX_TITLE_CHARS, True))
    body = sanitize_markdown(_string(value, "body", MAX_BODY_CHARS, True))
    if not title:
        raise ValueError("the draft's title is empty after removing HTML")
    if not body:
        raise ValueError("the draft's body is empty after removing HTML")
    tags_raw = value.get("tags") or []
    if not isinstance(tags_raw, list) or not all(isinstance(t, str) for t in tags_raw):
        raise ValueError("the draft's tags are not a list of strings")
    tags: list[str] = []
    for t in tags_raw:
        t = plain_line(t).lower()[:60]
        if t and t not in tags:
            tags.append(t)
    excerpt = plain_line(_string(value, "excerpt", MAX_META_CHARS, False))
    if not excerpt:
        first = next((line for line in body.splitlines() if line.strip() and not line.startswith(("#", "!"))), "")
        excerpt = first[:300]
    keyphrase = plain_line(_string(value, "primary_keyphrase", MAX_TITLE_CHARS, False)) or default_keyphrase
    slug = slugify(plain_line(_string(value, "slug", MAX_TITLE_CHARS, False)) or title)
    return Draft(
        title=title,
        meta_title=plain_line(_string(value, "meta_title", MAX_TITLE_CHARS, True)),
        meta_description=plain_line(_string(value, "meta_description", MAX_META_CHARS, True)),
        slug=slug,
        excerpt=excerpt,
        body=body,
        tags=tuple(tags[:MAX_TAGS]),
        primary_keyphrase=" ".join(keyphrase.lower().split()),
    )


@dataclass(frozen=True)
class ResearchIdea:
    title: str
    keyphrase: str
    keywords: tuple[str, ...]


def parse_research(text: str) -> list[ResearchIdea]:
    """The researcher's topics; ValueError when the answer has no usable topic list."""
    value = _json_object(text)
    topics = value.get("topics")
    if not isinstance(topics, list):
        raise ValueError("the research answer has no 'topics' list")
    ideas = []
    for t in topics:
        if not isinstance(t, dict) or not isinstance(t.get("title"), str):
            raise ValueError("each research topic needs a string 'title'")
        keywords = t.get("keywords") or []
        if not isinstance(keywords, list):
            raise ValueError("a research topic's 'keywords' is not a list")
        ideas.append(ResearchIdea(plain_line(t["title"]), plain_line(str(t.get("keyphrase") or "")).lower(),
                                  tuple(plain_line(str(k)).lower() for k in keywords if str(k).strip())))
    return ideas
