"""The stand-in LLM provider of the generation benchmarks: the AI area's LocalLLMServer in its own process.

`python -m benchmarks.llm_provider --port P --latency-ms 200` serves the OpenAI-compatible API with
a fixed latency; faults are set over HTTP (`POST /admin/faults`). It runs in a separate process so its
Python work does not share the benchmark client's GIL.

Its answers are the OFFLINE WRITER's drafts, rendered once per focus keyphrase and re-titled per
request (title, slug, meta title), so the stand-in costs well under a millisecond of CPU per call
instead of ~6 ms: the benchmark measures Allixios' client, ledger and budget path, not the stand-in.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import httpx

BRIEF_MARKER = "BRIEF_JSON:"


def fast_offline_responder():
    """A responder for LocalLLMServer: the offline writer's draft per keyphrase, re-titled per brief."""
    from allixios.content.offline_writer import respond
    from allixios.content.slugs import slugify
    from allixios.testing.llm_server import default_answer

    cache: dict[str, dict] = {}
    lock = threading.Lock()

    def answer(messages: list[dict], model: str) -> str:
        last = str(messages[-1].get("content") or "") if messages else ""
        at = last.rfind(BRIEF_MARKER)
        if at < 0:
            return default_answer(messages, model)
        brief = json.loads(last[at + len(BRIEF_MARKER):].strip())
        title = str(brief.get("title") or "")
        # four variants per keyphrase keep some of the writer's variety (length, defects)
        key = f"{brief.get('keyphrase') or title}|{zlib.crc32(title.encode()) % 4}"
        with lock:
            draft = cache.get(key)
        if draft is None:
            text = respond(messages).strip()
            if text.startswith("```"):  # the writer sometimes fences its JSON, as models do
                text = text.strip("`").removeprefix("json").strip()
            draft = json.loads(text)
            with lock:
                cache[key] = draft
        title = title or draft["title"]
        return json.dumps({**draft, "title": title, "slug": slugify(title), "meta_title": title[:55]})

    return answer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ProviderProcess:
    """Start/stop the provider process and talk to its admin API."""

    def __init__(self, latency_ms: int, log_path: Path):
        self.latency_ms, self.log_path = latency_ms, log_path
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def admin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ProviderProcess:
        log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.llm_provider", "--port", str(self.port), "--latency-ms", str(self.latency_ms)],
            stdout=log, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parent.parent,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.admin}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        self.__exit__()
        raise RuntimeError(f"the stand-in provider did not start; see {self.log_path}")

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def set_faults(self, faults: list[dict]) -> None:
        httpx.post(f"{self.admin}/admin/faults", json=faults, timeout=10).raise_for_status()

    def clear_faults(self) -> None:
        httpx.delete(f"{self.admin}/admin/faults", timeout=10).raise_for_status()

    def requests(self) -> list[dict]:
        return httpx.get(f"{self.admin}/admin/requests", timeout=30).json()

    def cpu_seconds(self) -> float | None:
        """User + system CPU the provider process has used so far (Linux /proc)."""
        if not self.proc:
            return None
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        import os

        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> None:
    import argparse

    from allixios.testing.llm_server import LocalLLMServer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=int, default=200)
    args = parser.parse_args(argv)
    server = LocalLLMServer(port=args.port, latency_ms=args.latency_ms, responder=fast_offline_responder()).start()
    print(f"stand-in provider on {server.url}, latency {args.latency_ms} ms", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
