"""Offline vulnerability data for the dependency audit: an OSV export served to pip-audit locally.

pip-audit has no offline database, but its OSV service takes the query URL as an option
(``--vulnerability-service osv --osv-url URL``). Where neither pypi.org's JSON API nor api.osv.dev
is reachable (this build machine: only the package indexes are), an operator copies OSV's PyPI
export (``https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip``, one JSON record per
advisory, CC-BY 4.0) or a checkout of pypa/advisory-database converted to JSON onto the machine
and points ``ALLIXIOS_OSV_DB`` (or ``allixios security audit --osv-db``) at it. This module answers
OSV's ``POST /v1/query`` from those records on 127.0.0.1 for the duration of one audit; pip-audit
itself does the auditing, unchanged.

Matching follows the OSV schema: a version is affected when it is listed in ``versions`` or lies in
an ``ECOSYSTEM`` range (``introduced`` … ``fixed`` exclusive / ``last_affected`` inclusive), package
names compared after PEP 503 normalisation. ``GIT`` ranges are ignored (no commit to compare).
"""

from __future__ import annotations

import json
import re
import threading
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from allixios.errors import ConfigError


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _records(path: Path) -> Iterator[dict[str, Any]]:
    if path.is_file() and path.suffix == ".zip":
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.filename.endswith(".json"):
                    yield json.loads(zf.read(info))
    elif path.is_dir():
        for file in sorted(path.rglob("*.json")):
            yield json.loads(file.read_text(encoding="utf-8"))
    elif path.is_file() and path.suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        yield from (data if isinstance(data, list) else [data])
    else:
        raise ConfigError(f"OSV data {path} is neither a .zip export, a .json file nor a folder of them",
                          fix="point ALLIXIOS_OSV_DB / --osv-db at OSV's PyPI all.zip or a folder of OSV JSON records")


def load(path: Path) -> dict[str, list[dict[str, Any]]]:
    """PyPI package (canonical name) -> its OSV records."""
    index: dict[str, list[dict[str, Any]]] = defaultdict(list)
    try:
        for record in _records(path):
            names = {canonical(a["package"]["name"]) for a in record.get("affected", [])
                     if a.get("package", {}).get("ecosystem") == "PyPI"}
            for name in names:
                index[name].append(record)
    except (json.JSONDecodeError, KeyError, zipfile.BadZipFile) as exc:
        raise ConfigError(f"OSV data {path} could not be read ({type(exc).__name__}: {exc})",
                          fix="use OSV's PyPI all.zip export unchanged, or OSV JSON records (schema 1.x)") from None
    return dict(index)


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _in_range(version: Version, events: list[dict[str, str]]) -> bool:
    affected = False
    for event in events:  # OSV: events in order; introduced opens, fixed / last_affected close
        if "introduced" in event:
            start = event["introduced"]
            affected = affected or start == "0" or ((v := _version(start)) is not None and version >= v)
        elif "fixed" in event and (v := _version(event["fixed"])) is not None and version >= v:
            affected = False
        elif "last_affected" in event and (v := _version(event["last_affected"])) is not None and version > v:
            affected = False
    return affected


def affects(record: dict[str, Any], name: str, version: str) -> bool:
    if record.get("withdrawn"):
        return False
    parsed = _version(version)
    for a in record.get("affected", []):
        pkg = a.get("package", {})
        if pkg.get("ecosystem") != "PyPI" or canonical(pkg.get("name", "")) != canonical(name):
            continue
        if version in a.get("versions", []):
            return True
        if parsed is not None and any(r.get("type") == "ECOSYSTEM" and _in_range(parsed, r.get("events", []))
                                      for r in a.get("ranges", [])):
            return True
    return False


def query(index: dict[str, list[dict[str, Any]]], name: str, version: str) -> list[dict[str, Any]]:
    return [r for r in index.get(canonical(name), []) if affects(r, name, version)]


@contextmanager
def serve(index: dict[str, list[dict[str, Any]]]) -> Iterator[str]:
    """An OSV-compatible query endpoint on 127.0.0.1 (a free port) for as long as the block runs."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
                vulns = query(index, body["package"]["name"], body["version"])
                data, status = json.dumps({"vulns": vulns} if vulns else {}).encode(), 200
            except (KeyError, TypeError, json.JSONDecodeError):
                data, status = b'{"message": "expected {package: {name, ecosystem}, version}"}', 400
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):  # no request log on stderr (it would end up in pip-audit's error line)
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/query"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
