"""Real, human-written posts (tests/fixtures/real_posts, public domain / CC0) and real defects made from them.

The defects are edits a hurried editor or a bad import makes to real text — trimmed to a few
paragraphs, subheadings stripped, the keyphrase taken out of the introduction — so the score →
revise loop is tested on text nobody designed around the scorer.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

from allixios.content.drafting import Draft
from allixios.content.slugs import slugify

FIXTURES = Path(__file__).parent / "fixtures" / "real_posts"


@dataclass(frozen=True)
class RealPost:
    slug: str
    title: str
    keyphrase: str
    meta_description: str
    body: str
    author: str
    source_url: str
    licence: str

    def draft(self, body: str | None = None, slug: str | None = None) -> Draft:
        """The post as a writer's draft (the fields a model returns), optionally with another body."""
        excerpt = " ".join(_paragraphs(body or self.body)[0].split())[:300]
        return Draft(self.title, self.title, self.meta_description or excerpt[:150], slug or slugify(self.title),
                     excerpt, body or self.body, (self.keyphrase,), self.keyphrase)


def load_posts() -> dict[str, RealPost]:
    meta = json.loads((FIXTURES / "sources.json").read_text())
    return {slug: RealPost(slug, m["title"], m["keyphrase"], m["meta_description"],
                           (FIXTURES / f"{slug}.md").read_text(), m["author"], m["source_url"], m["licence"])
            for slug, m in meta.items()}


def _paragraphs(body: str) -> list[str]:
    return [p for p in re.split(r"\n\s*\n", body.strip()) if p.strip()]


def trimmed(body: str, paragraphs: int = 2) -> str:
    """Only the first few prose paragraphs survive (a truncated import)."""
    prose = [p for p in _paragraphs(body) if not p.lstrip().startswith(("#", "!", "*", "-", "<", ">", "1."))]
    return "\n\n".join(prose[:paragraphs]) + "\n"


def without_subheadings(body: str) -> str:
    """Every ATX heading line removed (the text runs on as one block of paragraphs)."""
    return "\n".join(line for line in body.splitlines() if not re.match(r"\s{0,3}#{1,6}\s", line)).strip() + "\n"


def without_keyphrase_in_intro(body: str, keyphrase: str, paragraphs: int = 2) -> str:
    """The keyphrase taken out of the first paragraphs (replaced by a vaguer word)."""
    parts = _paragraphs(body)
    pattern = re.compile(re.escape(keyphrase), re.I)
    for i in range(min(paragraphs, len(parts))):
        parts[i] = pattern.sub("it", parts[i])
    return "\n\n".join(parts) + "\n"


def with_keyphrase(post: RealPost, keyphrase: str) -> RealPost:
    return replace(post, keyphrase=keyphrase)
