"""`allixios site serve`: a real HTTP server for the live release of a tenant's site.

Every request resolves the ``current`` link once, so a release switch (build or rollback) takes
effect between requests and a response never mixes two releases. Old URLs answer 301 and withdrawn
articles 410 from the release's ``_redirects``. Content-hashed assets (``/_assets/``, ``/_media/``)
are cacheable for ever; HTML for a minute; XML and text for five.
"""

from __future__ import annotations

import email.utils
import posixpath
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from allixios.errors import ConfigError
from allixios.publishing import releases

TYPES = {
    ".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8", ".xml": "application/xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8", ".webp": "image/webp", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
    ".png": "image/png", ".gif": "image/gif", ".ico": "image/x-icon", ".svg": "image/svg+xml",
    ".js": "text/javascript; charset=utf-8", ".json": "application/json",
}
IMMUTABLE = "public, max-age=31536000, immutable"
HTML_CACHE = "public, max-age=60"
TEXT_CACHE = "public, max-age=300"
HIDDEN = {"_redirects", ".manifest", ".manifest-pages"}


def content_type(path: Path) -> str:
    if path.name == "feed.xml":
        return "application/atom+xml; charset=utf-8"
    return TYPES.get(path.suffix.lower(), "application/octet-stream")


def cache_control(url_path: str, file: Path) -> str:
    if url_path.startswith(("/_assets/", "/_media/")):
        return IMMUTABLE
    if file.suffix == ".html":
        return HTML_CACHE
    return TEXT_CACHE


class _Redirects:
    """The `_redirects` map of the release last seen (reloaded when the live release changes)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._release: Path | None = None
        self._map: dict[str, tuple[int, str]] = {}

    def lookup(self, release: Path, path: str) -> tuple[int, str] | None:
        with self._lock:
            if release != self._release:
                mapping: dict[str, tuple[int, str]] = {}
                file = release / "_redirects"
                if file.is_file():
                    with open(file, encoding="utf-8") as fh:
                        for line in fh:
                            parts = line.split()
                            if len(parts) == 3:
                                mapping[parts[0]] = (int(parts[2]), parts[1])
                self._release, self._map = release, mapping
            return self._map.get(path) or self._map.get(path if path.endswith("/") else path + "/")


def make_handler(tenant_slug: str):
    redirects = _Redirects()

    class SiteHandler(BaseHTTPRequestHandler):
        server_version = "AllixiosSite/1"
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # quiet: one line per request only when asked
            if getattr(self.server, "verbose", False):
                super().log_message(fmt, *args)

        def do_HEAD(self):
            self._serve(head=True)

        def do_GET(self):
            self._serve(head=False)

        def _send(self, status: int, file: Path | None, url_path: str, head: bool, extra: dict | None = None):
            body = file.read_bytes() if file is not None else b""
            self.send_response(status)
            if file is not None:
                self.send_header("Content-Type", content_type(file))
                self.send_header("Cache-Control", cache_control(url_path, file) if status == 200 else "no-cache")
                stat = file.stat()
                self.send_header("Last-Modified", email.utils.formatdate(stat.st_mtime, usegmt=True))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def _serve(self, head: bool):
            release = releases.live_release(tenant_slug)
            if release is None:
                self.send_error(HTTPStatus.SERVICE_UNAVAILABLE, "no release is live: run `allixios site build`")
                return
            url_path = unquote(urlsplit(self.path).path) or "/"
            clean = posixpath.normpath(url_path)
            if ".." in url_path.split("/") or "\x00" in url_path:
                self._send(400, None, url_path, head)
                return
            if url_path.endswith("/") and clean != "/":
                clean += "/"
            hit = redirects.lookup(release, clean)
            if hit:
                status, target = hit
                if status == 410:
                    self._send(410, release / "410.html", clean, head)
                else:
                    self._send(status, None, clean, head, {"Location": target, "Cache-Control": TEXT_CACHE})
                return
            rel = clean.lstrip("/")
            file = release / rel
            name = Path(rel).name
            if name in HIDDEN or (name.startswith(".") and name):
                self._send(404, release / "404.html", clean, head)
                return
            if file.is_dir():
                if not clean.endswith("/"):
                    self._send(301, None, clean, head, {"Location": clean + "/", "Cache-Control": TEXT_CACHE})
                    return
                file = file / "index.html"
            if file.is_file():
                etag = f'"{file.stat().st_ino:x}-{file.stat().st_size:x}-{int(file.stat().st_mtime):x}"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self._send(200, file, clean, head, {"ETag": etag})
            else:
                self._send(404, release / "404.html", clean, head)

    return SiteHandler


def make_server(tenant_slug: str, host: str = "127.0.0.1", port: int = 4500) -> ThreadingHTTPServer:
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ConfigError(f"refusing to serve on {host}", fix="the site server binds 127.0.0.1 only")
    try:
        server = ThreadingHTTPServer((host, port), make_handler(tenant_slug))
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}",
                          fix="pick a free port with --port (or stop what is using it)") from None
    server.daemon_threads = True
    return server
