"""Build the SEO conformance corpus (tests/fixtures/conformance/) from public blogs kept as Markdown.

Dev tool, run by hand (it needs the mirrored repositories and node): ::

    .venv/bin/python -m benchmarks.conformance.build_corpus MIRROR_ROOT

Sources (all openly licensed, all written by people):

- 18F blog, ``18F/18f.gsa.gov`` ``content/posts/`` — US government work, CC0 1.0 worldwide;
- Digital.gov news, ``GSA/digitalgov.gov`` ``content/news/`` — US government work, CC0 1.0;
- Rust blog, ``rust-lang/blog.rust-lang.org`` ``content/`` — MIT OR Apache-2.0.

Selection (deterministic, documented in docs/areas/content-scoring.md): posts whose prose is
300–3,000 words, ordered by sha1 of their path; per source the first ones go to the tuning set and
the next ones to the held-out set. Site templating is resolved the way the sites resolve it:
``{{ "/x/" | url }}`` and ``{{< ref "/x" >}}`` become the path they name, image shortcodes become
Markdown images, every other template tag is removed.

Keyphrase rule: the candidate phrases are the title's runs of 1–2 content words (no function
words, no figures or versions such as "1.41.0" or "18F"); the 2-word run is chosen when it occurs at least 3 times in the body, else the 1-word
candidate occurring most often (ties: the earliest in the title).

Expected verdicts come from the ``yoastseo`` npm package run as an oracle (oracle.js) on the body
rendered by Allixios' one Markdown parse (soft line breaks as spaces), so both sides read the same text.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import yaml

from allixios.content import readability as rd
from allixios.content.markup import clean_html, parser
from allixios.content.scoring import title_width_px

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "conformance"
ORACLE = Path(__file__).with_name("oracle.js")


@dataclass(frozen=True)
class Source:
    key: str
    repo: str
    folder: str
    licence: str
    host: str
    tuning: int
    heldout: int


SOURCES = [
    Source("18f", "18F/18f.gsa.gov", "content/posts/", "CC0-1.0 (US government work)", "18f.gsa.gov", 15, 9),
    Source("digitalgov", "GSA/digitalgov.gov", "content/news/", "CC0-1.0 (US government work)", "digital.gov", 15, 8),
    Source("rust", "rust-lang/blog.rust-lang.org", "content/", "MIT OR Apache-2.0", "blog.rust-lang.org", 10, 8),
]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def split_front_matter(text: str) -> tuple[dict, str]:
    if text.startswith("---"):
        _, fm, body = text.split("---", 2)
        return yaml.safe_load(fm) or {}, body
    if text.startswith("+++"):
        _, fm, body = text.split("+++", 2)
        return tomllib.loads(fm), body
    return {}, text


_IMG_SHORTCODE = re.compile(r"\{\{<\s*[\w-]*img\b([^>]*)>\}\}")
_ATTR = re.compile(r'(\w+)="([^"]*)"')


def resolve_templates(body: str) -> str:
    body = re.sub(r"\{\{\s*[\"']([^\"']+)[\"']\s*\|\s*url\s*\}\}", r"\1", body)
    body = re.sub(r"\{\{<\s*ref\s+[\"']([^\"']+)[\"']\s*>\}\}", r"\1", body)

    def image(m: re.Match) -> str:
        a = dict(_ATTR.findall(m.group(1)))
        return f"![{a.get('alt', '')}](/img/{a.get('src', '')})" if a.get("src") else ""

    body = _IMG_SHORTCODE.sub(image, body)
    body = re.sub(r"\{\{[<%].*?[>%]\}\}", "", body, flags=re.S)
    body = re.sub(r"\{%.*?%\}", "", body, flags=re.S)
    body = re.sub(r"\{\{.*?\}\}", "", body, flags=re.S)
    return re.sub(r"\n{3,}", "\n\n", body).strip() + "\n"


def keyphrase_for(title: str, body_text: str) -> str:
    words = [w.lower() for w in rd.words(title)]
    text = " ".join(w.lower() for w in rd.words(body_text))

    def count(phrase: str) -> int:
        return len(re.findall(rf"\b{re.escape(phrase)}\b", text))

    def usable(w: str) -> bool:  # a content word that is not a figure or version ("1.41.0", "18F")
        return w not in rd.FUNCTION_WORDS and not any(ch.isdigit() for ch in w)

    pairs = [f"{a} {b}" for a, b in zip(words, words[1:], strict=False) if usable(a) and usable(b)]
    best_pair = max(pairs, key=count, default="")  # max keeps the earliest on ties
    if best_pair and count(best_pair) >= 3:
        return best_pair
    singles = [w for w in words if usable(w)]
    return max(singles, key=count, default=words[0] if words else "")


def prose_words(body: str) -> int:
    from allixios.content.markdown_text import parse_markdown

    return sum(len(rd.words(b.text)) for b in parse_markdown(body).blocks)


def candidates(mirror: Path, src: Source):
    repo = mirror / src.repo.replace("/", "+") / "repo"
    commit = git(repo, "rev-parse", "HEAD").strip()
    paths = [p for p in git(repo, "ls-tree", "-r", "--name-only", "HEAD", src.folder).split("\n")
             if p.endswith(".md") and "/inside-rust/" not in p and not p.endswith(("_index.md", "index.md"))]
    if src.key == "rust":
        paths = [p for p in paths if p.count("/") == 1]
    paths.sort(key=lambda p: hashlib.sha1(p.encode()).hexdigest())
    for path in paths:
        fm, body = split_front_matter(git(repo, "show", f"HEAD:{path}"))
        if not fm.get("title"):
            continue
        body = resolve_templates(body)
        n = prose_words(body)
        if not 300 <= n <= 3000:
            continue
        yield repo, commit, path, fm, body, n


def article(src: Source, commit: str, path: str, fm: dict, body: str) -> dict:
    stem = Path(path).stem
    slug = fm.get("slug") or re.sub(r"^\d{4}-\d{2}-\d{2}-", "", stem)
    date = re.match(r"(\d{4})-(\d{2})-(\d{2})", stem)
    if src.key == "rust" and fm.get("path"):
        url_path = "/" + str(fm["path"]).strip("/") + "/"
        slug = url_path.rstrip("/").rsplit("/", 1)[-1]
    elif date:
        url_path = f"/{date.group(1)}/{date.group(2)}/{date.group(3)}/{slug}/"
    else:
        url_path = f"/{slug}/"
    authors = fm.get("authors") or fm.get("author") or []
    if isinstance(authors, str):
        authors = [authors]
    title = str(fm["title"]).strip()
    from allixios.content.markdown_text import parse_markdown

    text = " ".join(b.text for b in parse_markdown(body).blocks)
    return {
        "id": f"{src.key}-{slug}"[:80],
        "source_url": f"https://github.com/{src.repo}/blob/{commit}/{path}",
        "published_url": f"https://{src.host}{url_path}",
        "licence": src.licence,
        "author": ", ".join(str(a) for a in authors) or "unnamed (team post)",
        "title": title,
        "slug": slug,
        "site_host": src.host,
        "description": " ".join(str(fm.get("excerpt") or fm.get("summary") or fm.get("description") or "").split()),
        "keyphrase": keyphrase_for(title, text),
    }


def oracle_html(body: str) -> str:
    """The body as the site renders it, with soft line breaks as spaces: a paragraph hard-wrapped in
    its Markdown source is one paragraph on the page (and in a CMS editor), while yoastseo would
    otherwise split sentences at the source's line ends."""
    md = parser()
    tokens = md.parse(body)
    for token in tokens:
        for child in token.children or ():
            if child.type == "softbreak":
                child.type, child.content = "text", " "
    return clean_html(md.renderer.render(tokens, md.options, {}))


def oracle(items: list[tuple[dict, str]]) -> dict:
    payload = [{"id": a["id"], "html": oracle_html(body), "keyphrase": a["keyphrase"], "title": a["title"],
                "description": a["description"], "slug": a["slug"], "permalink": a["published_url"],
                "titleWidth": title_width_px(a["title"])} for a, body in items]
    out = subprocess.run(["node", str(ORACLE)], input=json.dumps(payload), capture_output=True, text=True,
                         check=True, cwd=ORACLE.parent)
    return json.loads(out.stdout)


def main(mirror: str) -> None:
    sets: dict[str, list[tuple[dict, str]]] = {"tuning": [], "heldout": []}
    for src in SOURCES:
        picked = 0
        for _repo, commit, path, fm, body, _n in candidates(Path(mirror), src):
            target = "tuning" if picked < src.tuning else "heldout"
            sets[target].append((article(src, commit, path, fm, body), body))
            picked += 1
            if picked >= src.tuning + src.heldout:
                break
    for name, items in sets.items():
        folder = OUT / name
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*"):
            old.unlink()
        verdicts = oracle(items)
        for meta, body in items:
            meta = meta | {"expected": verdicts[meta["id"]]}
            (folder / f"{meta['id']}.md").write_text(body)
            (folder / f"{meta['id']}.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
        print(f"{name}: {len(items)} articles")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/work/.mirror")
