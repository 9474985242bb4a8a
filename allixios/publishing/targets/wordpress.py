"""WordPress through its REST API, authenticated with an application password.

Publishing an article creates the post, or updates it by its stored remote id; when the id was lost
(or the post was deleted on the WordPress side) the post is looked up by its slugs first, so a
re-run never makes a duplicate post. The featured image is uploaded to the media library (once per
image checksum), the niche becomes a category and the article's tags become tags (created when
missing), and title, excerpt, slug, date and featured image are set.

Routes go through ``?rest_route=`` so they work with and without pretty permalinks. The password is
read from the environment variable named by ``password_env`` at call time, never stored or logged.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from datetime import UTC
from typing import Any

import httpx

from allixios.publishing.targets import Delivery, Image, LiveArticle, SecretNames, TargetError

DEFAULTS: dict[str, Any] = {"status": "publish", "unpublish": "draft", "timeout": 15.0}
CONFIG_KEYS = {"url", "user", "password_env", *DEFAULTS}
STAND_IN_NOTICE = (
    '<p class="allixios-stand-in"><strong>Placeholder: this text was written by the offline stand-in writer, '
    "not a real model. It is not real content.</strong></p>\n"
)
_TERM_SLUG = re.compile(r"[^a-z0-9]+")


def check_config(config: dict[str, Any]) -> dict[str, Any]:
    from allixios.errors import ValidationError

    unknown = set(config) - CONFIG_KEYS
    if unknown:
        raise ValidationError(f"unknown WordPress setting(s): {', '.join(sorted(unknown))}",
                              fix=f"use only {', '.join(sorted(CONFIG_KEYS))}")
    merged = {**DEFAULTS, **{k: v for k, v in config.items() if v is not None}}
    if not str(merged.get("url", "")).startswith(("http://", "https://")):
        raise ValidationError(f"WordPress URL {merged.get('url')!r} is not an http(s) URL",
                              fix="pass --url https://blog.example.com (the site's home URL)")
    if not merged.get("user"):
        raise ValidationError("the WordPress target needs a user name", fix="pass --user EDITOR_LOGIN")
    if not merged.get("password_env"):
        raise ValidationError("the WordPress target needs the NAME of the environment variable holding its "
                              "application password",
                              fix="pass --password-env WP_APP_PASSWORD (the password itself stays in the environment)")
    if merged["unpublish"] not in ("draft", "trash"):
        raise ValidationError(f"unpublish mode {merged['unpublish']!r} is not known", fix="use draft or trash")
    if merged["status"] not in ("publish", "draft", "pending", "private"):
        raise ValidationError(f"post status {merged['status']!r} is not known", fix="use publish, draft, pending or private")
    return merged


def _term_slug(name: str) -> str:
    return _TERM_SLUG.sub("-", name.lower()).strip("-")


class MediaRejected(TargetError):
    """WordPress refused the file itself (type, size): retrying the same file will not help."""


class WordPressTarget:
    kind = "wordpress"

    def __init__(self, name: str, config: dict[str, Any]):
        self.name = name
        self.config = check_config(config)
        self.base = self.config["url"].rstrip("/")
        self.secrets = SecretNames(name, [self.config["password_env"]], basic_user=self.config["user"])
        self._client: httpx.Client | None = None
        self._terms: dict[tuple[str, str], int] = {}

    # ---- HTTP ------------------------------------------------------------------------------------

    def _http(self) -> httpx.Client:
        if self._client is None:
            password = self.secrets.require(self.config["password_env"], "the WordPress application password")
            self._client = httpx.Client(auth=(self.config["user"], password), timeout=float(self.config["timeout"]),
                                        headers={"User-Agent": "Allixios publisher"})
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _where(self) -> str:
        return f"WordPress target {self.name!r} ({self.base})"

    def _request(self, method: str, route: str, *, ok404: bool = False, ok_gone: bool = False,
                 **kwargs) -> httpx.Response:
        params = {"rest_route": route, **kwargs.pop("params", {})}
        try:
            response = self._http().request(method, self.base + "/", params=params, **kwargs)
        except httpx.TimeoutException:
            raise TargetError(f"{self._where()} did not answer within {self.config['timeout']}s",
                              fix="check the site is up; the publication stays pending and is retried") from None
        except httpx.HTTPError as exc:
            raise TargetError(f"{self._where()} could not be reached: "
                              f"{self.secrets.scrub(type(exc).__name__ + ': ' + str(exc), 200)}",
                              fix="check the URL and that the site is up; the publication is retried") from None
        if (response.status_code == 404 and ok404) or (response.status_code == 410 and ok_gone):
            return response
        if response.status_code >= 400:
            raise self._error(response)
        return response

    def _error(self, response: httpx.Response) -> TargetError:
        code, message = "", response.text[:200]
        try:
            body = response.json()
            if isinstance(body, dict):
                code, message = str(body.get("code", "")), html.unescape(str(body.get("message", "")))
        except ValueError:
            pass
        detail = self.secrets.scrub(f"{code}: {message}" if code else message, 200)
        status = response.status_code
        if status in (401, 403):
            return TargetError(
                f"{self._where()} refused the credentials of user {self.config['user']!r} (HTTP {status} {detail})",
                fix=f"create an application password for that user (Users → Profile → Application Passwords; the "
                f"user needs the Editor role) and export it as ${self.config['password_env']}",
            )
        if status >= 500:
            return TargetError(f"{self._where()} failed with HTTP {status} ({detail})",
                               fix="see the site's PHP error log; the publication stays pending and is retried")
        return TargetError(f"{self._where()} rejected the request with HTTP {status} ({detail})",
                           fix="see the message; the publication stays pending and is retried after the fix")

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise TargetError(f"WordPress answered HTTP {response.status_code} with something that is not JSON "
                              f"({response.text[:80]!r})",
                              fix="check the URL points at the WordPress home (REST API at ?rest_route=/)") from None

    def check(self) -> str:
        """Log in and confirm the user may publish posts and upload media (no write)."""
        me = self._json(self._request("GET", "/wp/v2/users/me", params={"context": "edit"}))
        caps = me.get("capabilities") or {}
        missing = [c for c in ("publish_posts", "upload_files", "manage_categories") if not caps.get(c)]
        if missing:
            raise TargetError(f"{self._where()}: user {self.config['user']!r} lacks {', '.join(missing)}",
                              fix="give the user the Editor role (Users → All Users → Role)", retryable=False)
        return f"logged in as {me.get('slug', self.config['user'])} (may publish posts and upload media)"

    # ---- terms and media -------------------------------------------------------------------------

    def _term(self, taxonomy: str, name: str) -> tuple[int, int]:
        """The id of the category/tag called ``name`` (created when missing) and the writes it took."""
        key = (taxonomy, name.lower())
        if key in self._terms:
            return self._terms[key], 0
        slug = _term_slug(name)
        found = self._json(self._request("GET", f"/wp/v2/{taxonomy}",
                                         params={"search": name, "per_page": 100, "context": "edit"}))
        for term in found if isinstance(found, list) else []:
            if html.unescape(term.get("name", "")).lower() == name.lower() or term.get("slug") == slug:
                self._terms[key] = int(term["id"])
                return self._terms[key], 0
        try:
            created = self._json(self._request("POST", f"/wp/v2/{taxonomy}", json={"name": name}))
            term_id = int(created["id"])
        except TargetError:
            # a term with that slug exists but the search did not match its name: look it up by slug
            by_slug = self._json(self._request("GET", f"/wp/v2/{taxonomy}", params={"slug": slug, "context": "edit"}))
            if not by_slug:
                raise
            term_id = int(by_slug[0]["id"])
        self._terms[key] = term_id
        return term_id, 1

    def _upload(self, image: Image) -> int:
        data = image.path.read_bytes()
        try:
            response = self._request(
                "POST", "/wp/v2/media", content=data, params={"alt_text": image.alt},
                headers={"Content-Type": image.mime, "Content-Disposition": f'attachment; filename="{image.filename}"'},
            )
        except TargetError as exc:
            if "rest_upload" in exc.message or "file type" in exc.message or "HTTP 413" in exc.message:
                raise MediaRejected(f"{self._where()} rejected the featured image {image.filename} ({image.mime}): "
                                    f"{exc.message.split('(', 1)[-1].rstrip(')')}",
                                    fix="use a JPEG, PNG or WebP image, or allow the type on the site; the post was "
                                    "published without it", retryable=False) from None
            raise
        return int(self._json(response)["id"])

    # ---- posts ---------------------------------------------------------------------------------

    def post_fields(self, article: LiveArticle) -> dict[str, Any]:
        """The post as WordPress is sent it (without ids of terms and media, which are per site)."""
        from allixios.content.markup import render_html

        content = render_html(article.body_markdown or "")
        if article.stand_in:
            content = STAND_IN_NOTICE + content
        return {
            "title": article.title,
            "content": content,
            "excerpt": article.excerpt or article.meta_description or "",
            "slug": article.slug,
            "status": self.config["status"],
            "date_gmt": article.published_at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
            if article.published_at else None,
        }

    def payload_hash(self, article: LiveArticle) -> str:
        doc = {
            "target": self.base,
            "post": self.post_fields(article),
            "category": article.category,
            "tags": sorted(article.tags),
            "image": article.image.sha256 if article.image else None,
            "alt": article.image.alt if article.image else None,
        }
        return hashlib.sha256(json.dumps(doc, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()

    def _find(self, slugs: list[str]) -> int | None:
        """The post that has one of ``slugs`` (any status, the trash included), in the order given."""
        if not slugs:
            return None
        slugs = [*slugs, *(f"{s}__trashed" for s in slugs)]  # WordPress renames the slug of a trashed post
        found = self._json(self._request("GET", "/wp/v2/posts", params={
            "slug": ",".join(slugs), "status": "publish,future,draft,pending,private,trash",
            "context": "edit", "per_page": 100,
        }))
        by_slug = {p.get("slug"): p for p in found} if isinstance(found, list) else {}
        for slug in slugs:
            if slug in by_slug:
                return int(by_slug[slug]["id"])
        return None

    def publish(self, article: LiveArticle, remote_id: str | None, remote_meta: dict[str, Any]) -> Delivery:
        writes, warnings = 0, []
        meta = dict(remote_meta)
        body = self.post_fields(article)
        if body["date_gmt"] is None:
            body.pop("date_gmt")
        if article.image is not None:
            if meta.get("media_sha") == article.image.sha256 and meta.get("media_id"):
                body["featured_media"] = int(meta["media_id"])
            else:
                try:
                    media_id = self._upload(article.image)
                    writes += 1
                    meta.update(media_id=media_id, media_sha=article.image.sha256)
                    body["featured_media"] = media_id
                except MediaRejected as exc:
                    warnings.append(exc.one_line())
                    meta.pop("media_id", None)
                    meta.pop("media_sha", None)
                    body["featured_media"] = 0
        else:
            body["featured_media"] = 0
        if article.category:
            term_id, w = self._term("categories", article.category)
            body["categories"], writes = [term_id], writes + w
        tag_ids = []
        for tag in article.tags:
            term_id, w = self._term("tags", tag)
            tag_ids.append(term_id)
            writes += w
        body["tags"] = tag_ids
        post = None
        if remote_id:
            response = self._request("POST", f"/wp/v2/posts/{int(remote_id)}", json=body, ok404=True)
            if response.status_code != 404:
                post = self._json(response)
            writes += 1
        if post is None:
            # the stored id is missing or gone: find the post by slug before creating one (no duplicates)
            existing = self._find([article.slug, *[s for s in article.known_slugs if s != article.slug]])
            if existing is not None:
                post = self._json(self._request("POST", f"/wp/v2/posts/{existing}", json=body))
            else:
                post = self._json(self._request("POST", "/wp/v2/posts", json=body))
            writes += 1
        return Delivery(str(post["id"]), post.get("link"), writes, meta, warnings)

    def unpublish(self, article: LiveArticle, remote_id: str | None) -> Delivery:
        post_id = int(remote_id) if remote_id else self._find([article.slug, *article.known_slugs])
        if post_id is None:
            return Delivery(None, None, 0)
        if self.config["unpublish"] == "trash":
            response = self._request("DELETE", f"/wp/v2/posts/{post_id}", ok404=True, ok_gone=True)
        else:
            response = self._request("POST", f"/wp/v2/posts/{post_id}", json={"status": "draft"}, ok404=True)
        if response.status_code in (404, 410):
            return Delivery(str(post_id), None, 1, warnings=["the post was already gone on the WordPress side"])
        return Delivery(str(post_id), self._json(response).get("link"), 1)
