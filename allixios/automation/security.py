"""Security scans: known-vulnerable pinned dependencies (pip-audit) and secrets committed to the
tree or dropped into the landing folders. Findings become business alerts.

**Dependencies**: ``pip-audit -r constraints.txt --disable-pip --no-deps`` audits exactly the
pinned versions (no resolver, nothing installed) against the package index's vulnerability data
(PyPI's JSON API per release). A pin the service cannot answer for is reported as *not audited*
with pip-audit's reason, never as clean: when nothing could be audited the scan says the data was
unreachable (exit 3 of ``allixios security audit``) rather than "no vulnerabilities". Offline,
``ALLIXIOS_OSV_DB`` (or ``--osv-db``) names a copy of OSV's PyPI export that pip-audit's OSV service
queries through a local endpoint (allixios/automation/osv_offline.py).

**Secrets**: the files git tracks under the project root plus every file in the landing folders
are read line by line for high-confidence key shapes (private key blocks, AWS access key ids,
GitHub, Slack, OpenAI, Anthropic, Google and Stripe live keys, Slack webhook URLs). A finding
names the file, line, kind and a fingerprint (sha256 prefix of the match), never the value. A
line carrying ``allixios:allow-secret`` is a documented test fixture and is skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from allixios import settings

ALLOW_MARKER = "allixios:allow-secret"
MAX_FILE_BYTES = 2_000_000
SECRET_PATTERNS: dict[str, re.Pattern] = {
    "private_key": re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----"),
    "aws_access_key_id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "github_token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "slack_token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "slack_webhook": re.compile(r"https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{16,}"),
    "anthropic_key": re.compile(r"\bsk-ant-[A-Za-z0-9_-]{32,}"),
    "openai_key": re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}|\bsk-proj-[A-Za-z0-9_-]{40,}"),
    "google_api_key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    "stripe_live_key": re.compile(r"\b[rs]k_live_[0-9a-zA-Z]{24,}"),
}


@dataclass
class AuditResult:
    requirements: str
    audited: int = 0
    vulnerable: list[dict[str, Any]] = field(default_factory=list)  # {name, version, id, aliases, fix_versions}
    not_audited: list[dict[str, str]] = field(default_factory=list)  # {name, reason}
    error: str | None = None

    @property
    def reachable(self) -> bool:
        return self.error is None and (self.audited > 0 or not self.not_audited)


def audit_dependencies(requirements: Path, timeout: float = 600, osv_db: Path | None = None) -> AuditResult:
    """pip-audit over the pinned requirements file; vulnerabilities, and what could not be audited.

    ``osv_db`` (default ``$ALLIXIOS_OSV_DB``): a local OSV export to audit against instead of pypi.org.
    """
    result = AuditResult(str(requirements))
    command = [sys.executable, "-m", "pip_audit", "-r", str(requirements), "--disable-pip", "--no-deps",
               "--format", "json", "--progress-spinner", "off"]
    osv_db = osv_db or (Path(os.environ["ALLIXIOS_OSV_DB"]) if os.environ.get("ALLIXIOS_OSV_DB") else None)
    if osv_db is None:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    else:
        import tempfile

        from allixios.automation import osv_offline

        index = osv_offline.load(osv_db)
        with osv_offline.serve(index) as url, tempfile.TemporaryDirectory(prefix="allixios-osv-") as cache:
            done = subprocess.run([*command, "--vulnerability-service", "osv", "--osv-url", url, "--cache-dir", cache],
                                  capture_output=True, text=True, timeout=timeout)
    try:
        report = json.loads(done.stdout or "{}")
    except json.JSONDecodeError:
        result.error = (done.stderr.strip().splitlines() or ["pip-audit gave no report"])[-1][:300]
        return result
    for dep in report.get("dependencies", []):
        if dep.get("skip_reason"):
            result.not_audited.append({"name": dep.get("name", "?"), "reason": dep["skip_reason"][:300]})
            continue
        result.audited += 1
        for v in dep.get("vulns", []):
            result.vulnerable.append({"name": dep["name"], "version": dep.get("version"), "id": v.get("id"),
                                      "aliases": v.get("aliases", []), "fix_versions": v.get("fix_versions", [])})
    if not report.get("dependencies") and done.returncode not in (0, 1):
        result.error = (done.stderr.strip().splitlines() or [f"pip-audit exited {done.returncode}"])[-1][:300]
    return result


def _tracked_files(root: Path) -> list[Path]:
    done = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True, timeout=60)
    if done.returncode != 0:
        return [p for p in root.rglob("*") if p.is_file() and ".git" not in p.parts and ".venv" not in p.parts]
    return [root / p for p in done.stdout.decode().split("\0") if p]


def scan_files(files: list[Path], root: Path | None = None) -> list[dict[str, Any]]:
    findings = []
    for path in files:
        try:
            if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
                continue
            data = path.read_bytes()
        except OSError:
            continue
        if b"\0" in data[:8192]:
            continue  # binary
        text = data.decode("utf-8", errors="replace")
        for lineno, line in enumerate(text.splitlines(), 1):
            if ALLOW_MARKER in line:
                continue
            for kind, pattern in SECRET_PATTERNS.items():
                for m in pattern.finditer(line):
                    shown = str(path.relative_to(root)) if root and path.is_relative_to(root) else str(path)
                    findings.append({"path": shown, "line": lineno, "kind": kind,
                                     "fingerprint": hashlib.sha256(m.group(0).encode()).hexdigest()[:12]})
    return findings


def scan_secrets(root: Path | None = None, landing: list[Path] | None = None) -> list[dict[str, Any]]:
    """Committed files of the project and every file of the landing folders."""
    root = root or settings.project_root()
    found = scan_files(_tracked_files(root), root)
    for folder in landing if landing is not None else [settings.landing_dir(k) for k in settings.LANDING_KINDS]:
        if folder.exists():
            found += scan_files(sorted(p for p in folder.rglob("*") if p.is_file()), folder.parent)
    return found


def _week_start() -> datetime:
    today = datetime.now(UTC).date()
    monday = today - timedelta(days=today.weekday())
    return datetime(monday.year, monday.month, monday.day, tzinfo=UTC)


def findings_as_alerts(audit: AuditResult | None, secrets: list[dict[str, Any]] | None) -> list:
    """Platform alerts (no tenant), once per finding and week: a finding still open reminds weekly."""
    from allixios.automation.business_alerts import Alert

    week = _week_start()
    alerts = []
    for v in (audit.vulnerable if audit else []):
        fix = f"; fixed in {', '.join(v['fix_versions'])}" if v["fix_versions"] else "; no fixed release yet"
        alerts.append(Alert(None, "vulnerable_dependency", f"{v['name']}=={v['version']}:{v['id']}", week,
                            f"{v['name']} {v['version']} (pinned in {Path(audit.requirements).name}) has {v['id']}"
                            f"{' / ' + ', '.join(v['aliases'][:2]) if v['aliases'] else ''}{fix}",
                            "dependency_audit", "critical", v))
    for s in secrets or []:
        alerts.append(Alert(None, "committed_secret", f"{s['path']}:{s['line']}:{s['fingerprint']}", week,
                            f"a {s['kind'].replace('_', ' ')} is committed in {s['path']} line {s['line']} "
                            f"(fingerprint {s['fingerprint']}): revoke it and remove it from the history",
                            "secret_scan", "critical", s))
    return alerts
