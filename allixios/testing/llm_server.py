"""A local OpenAI-compatible HTTP server with fault injection, for tests and benchmarks.

Real HTTP on 127.0.0.1 (random port): ``POST /v1/chat/completions`` and ``POST /v1/embeddings``
with OpenAI-shaped bodies and usage tokens, so litellm talks to it like to any provider
(``model: openai/<name>``, ``api_base: server.url``). Faults are set at runtime, per request or
per fraction:

    with LocalLLMServer() as server:
        server.add_fault("rate_limit", count=1, retry_after=1)      # the first request gets 429
        server.add_fault("server_error", fraction=0.5, model="a")    # half of model "a" gets 500
        server.add_fault("hang", model="b", hang_s=5)                # never answers within the timeout

Kinds: latency, rate_limit (429 + Retry-After), server_error (500), hang, bad_json (unparseable
body), bad_content (valid envelope, content that is not the expected JSON), bad_request (400),
auth (401). Hostile providers: echo_key (a 200 answer that repeats the presented API key raw,
upper-cased, base64, url-encoded, hex and as a 9-character tail), echo_key_error (a 500 whose
message does the same), overcount_prompt (bills ``factor`` x the prompt tokens), ignore_max_tokens
(writes and bills ``factor`` x the request's max_tokens). A slow provider is ``latency`` (or the
server's ``latency_ms``): long enough to ``kill -9`` a client mid-call. A request may also pick a fault with the ``X-Fault`` header (and ``X-Latency-Ms``).
Admin over HTTP: ``POST /admin/faults`` (replace, JSON list), ``DELETE /admin/faults``,
``GET /admin/requests`` (the request log). Answers: a message with a ``BRIEF_JSON:`` line is
answered by ``allixios.content.offline_writer.respond(messages)``; otherwise a small JSON object.

Run it standalone: ``python -m allixios.testing.llm_server --port 8799 --latency-ms 200``.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULT_KINDS = ("latency", "rate_limit", "server_error", "hang", "bad_json", "bad_content", "bad_request", "auth",
               "echo_key", "echo_key_error", "overcount_prompt", "ignore_max_tokens")


@dataclass
class Fault:
    kind: str
    fraction: float = 1.0  # chance that a matching request gets it
    count: int | None = None  # only the first N matching requests (None = no limit)
    model: str | None = None  # only requests for this model
    endpoint: str | None = None  # "chat" or "embeddings"
    latency_ms: int = 0
    retry_after: float = 1.0
    hang_s: float = 30.0
    factor: float = 1.0  # overcount_prompt / ignore_max_tokens: how much more is billed
    applied: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; use one of {', '.join(FAULT_KINDS)}")


@dataclass
class LoggedRequest:
    n: int
    endpoint: str
    model: str | None
    received_at: float  # time.monotonic()
    fault: str | None
    status: int
    authorized: bool | None  # None when the server requires no key
    prompt_tokens: int = 0
    completion_tokens: int = 0
    body: dict = field(default_factory=dict, repr=False)


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


def _messages_text(messages: list[dict]) -> str:
    return "\n".join(str(m.get("content") or "") for m in messages if isinstance(m, dict))


def key_echoes(key: str) -> str:
    """The key in the encodings a hostile or careless provider might echo it in."""
    import base64
    from urllib.parse import quote

    raw = key.encode()
    return (f"raw={key} upper={key.upper()} b64={base64.b64encode(raw).decode()} "
            f"auth64={base64.b64encode(b'Authorization: Bearer ' + raw).decode()} url={quote(key, safe='')} "
            f"hex={raw.hex()} tail=...{key[-9:]}")


def default_answer(messages: list[dict], model: str) -> str:
    """A BRIEF_JSON prompt gets the offline writer's answer; anything else a small JSON object."""
    if "BRIEF_JSON:" in _messages_text(messages):
        try:
            from allixios.content.offline_writer import respond
        except ImportError:
            pass
        else:
            return respond(messages)
    last = str(messages[-1].get("content") or "") if messages else ""
    return json.dumps({"answer": f"local server reply to: {last[:80]}", "model": model})


class LocalLLMServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, latency_ms: int = 0, seed: int = 7,
                 required_key: str | None = None, responder: Callable[[list[dict], str], str] | None = None,
                 embedding_dimension: int = 384, echo_key_in_errors: bool = False):
        self.host, self.port = host, port
        self.latency_ms = latency_ms
        self.required_key = required_key
        self.responder = responder or default_answer
        self.embedding_dimension = embedding_dimension
        # like some real providers, repeat the presented key in 401 messages (tests prove it is scrubbed)
        self.echo_key_in_errors = echo_key_in_errors
        self.requests: list[LoggedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests served at the same moment (proves concurrency)
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The OpenAI api_base: http://127.0.0.1:PORT/v1"""
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> LocalLLMServer:
        server = self

        class Handler(_Handler):
            owner = server

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 256
            allow_reuse_address = True

        self._stopping.clear()
        self._httpd = Server((self.host, self.port), Handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="local-llm-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases hanging requests
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> LocalLLMServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- faults ----------------------------------------------------------------------------------

    def add_fault(self, kind: str, **options: Any) -> Fault:
        fault = Fault(kind, **options)
        with self._lock:
            self._faults.append(fault)
        return fault

    def set_faults(self, faults: list[dict]) -> None:
        parsed = [Fault(**f) for f in faults]
        with self._lock:
            self._faults = parsed

    def clear_faults(self) -> None:
        with self._lock:
            self._faults = []

    def clear_log(self) -> None:
        with self._lock:
            self.requests = []

    def requests_for(self, model: str | None = None, endpoint: str | None = None) -> list[LoggedRequest]:
        with self._lock:
            return [r for r in self.requests if (model is None or r.model == model) and (endpoint is None or r.endpoint == endpoint)]

    def _pick_fault(self, endpoint: str, model: str | None, header_fault: str | None) -> Fault | None:
        if header_fault:
            return Fault(header_fault)
        with self._lock:
            for fault in self._faults:
                if fault.model and fault.model != model:
                    continue
                if fault.endpoint and fault.endpoint != endpoint:
                    continue
                if fault.count is not None and fault.applied >= fault.count:
                    continue
                if fault.fraction < 1.0 and self._rng.random() >= fault.fraction:
                    continue
                fault.applied += 1
                return fault
        return None

    def _log(self, **kw: Any) -> LoggedRequest:
        with self._lock:
            entry = LoggedRequest(n=len(self.requests) + 1, **kw)
            self.requests.append(entry)
            return entry


class _Handler(BaseHTTPRequestHandler):
    owner: LocalLLMServer
    protocol_version = "HTTP/1.1"  # keep-alive: benchmarks reuse connections

    def log_message(self, *args) -> None:  # quiet: tests read the request log instead
        pass

    def _send(self, status: int, payload: Any, headers: dict | None = None, raw: bytes | None = None) -> None:
        body = raw if raw is not None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str, kind: str, headers: dict | None = None) -> None:
        self._send(status, {"error": {"message": message, "type": kind, "code": status}}, headers)

    def _read_json(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw or b"{}")

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        if self.path == "/admin/requests":
            with self.owner._lock:
                log = [{k: v for k, v in asdict(r).items() if k != "body"} for r in self.owner.requests]
            self._send(200, log)
        elif self.path in ("/health", "/v1/models"):
            self._send(200, {"object": "list", "data": []})
        else:
            self._error(404, f"no route {self.path}", "not_found")

    def do_DELETE(self) -> None:  # noqa: N802
        if self.path == "/admin/faults":
            self.owner.clear_faults()
            self._send(200, {"ok": True})
        else:
            self._error(404, f"no route {self.path}", "not_found")

    def do_POST(self) -> None:  # noqa: N802
        try:
            body = self._read_json()
        except json.JSONDecodeError:
            self._error(400, "request body is not JSON", "invalid_request_error")
            return
        if self.path == "/admin/faults":
            try:
                self.owner.set_faults(body if isinstance(body, list) else body.get("faults", []))
            except (TypeError, ValueError) as exc:
                self._error(400, str(exc), "invalid_request_error")
                return
            self._send(200, {"ok": True})
            return
        endpoint = {"/v1/chat/completions": "chat", "/chat/completions": "chat",
                    "/v1/embeddings": "embeddings", "/embeddings": "embeddings"}.get(self.path)
        if endpoint is None:
            self._error(404, f"no route {self.path}", "not_found")
            return
        with self.owner._lock:
            self.owner.in_flight += 1
            self.owner.max_in_flight = max(self.owner.max_in_flight, self.owner.in_flight)
        try:
            self._serve(endpoint, body)
        finally:
            with self.owner._lock:
                self.owner.in_flight -= 1

    def _serve(self, endpoint: str, body: dict) -> None:
        owner = self.owner
        model = body.get("model")
        received = time.monotonic()
        authorized = None
        if owner.required_key is not None:
            authorized = self.headers.get("Authorization", "") == f"Bearer {owner.required_key}"
        fault = owner._pick_fault(endpoint, model, self.headers.get("X-Fault"))
        kind = fault.kind if fault else None
        delay_ms = owner.latency_ms + (fault.latency_ms if fault else 0)
        if self.headers.get("X-Latency-Ms"):
            delay_ms += int(self.headers["X-Latency-Ms"])

        def log(status: int, prompt_tokens: int = 0, completion_tokens: int = 0) -> None:
            owner._log(endpoint=endpoint, model=model, received_at=received, fault=kind, status=status,
                       authorized=authorized, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, body=body)

        if delay_ms and owner._stopping.wait(delay_ms / 1000.0):
            return
        presented_key = self.headers.get("Authorization", "").removeprefix("Bearer ")
        if kind == "echo_key_error":
            log(500)
            self._error(500, f"upstream failed for key {key_echoes(presented_key)}", "server_error")
        elif authorized is False or kind == "auth":
            log(401)
            presented = self.headers.get("Authorization", "").removeprefix("Bearer ")
            shown = f": {presented}" if owner.echo_key_in_errors else "."
            self._error(401, f"Incorrect API key provided{shown}", "invalid_request_error")
        elif kind == "rate_limit":
            log(429)
            self._error(429, "Rate limit reached, retry later.", "rate_limit_error",
                        {"Retry-After": f"{fault.retry_after:g}"})
        elif kind == "server_error":
            log(500)
            self._error(500, "The server had an error while processing your request.", "server_error")
        elif kind == "bad_request":
            log(400)
            self._error(400, "Invalid request: unsupported parameter.", "invalid_request_error")
        elif kind == "hang":
            log(0)
            owner._stopping.wait(fault.hang_s)  # the client times out first
            self.close_connection = True
        elif kind == "bad_json":
            log(200)
            self._send(200, None, raw=b'{"id": "chatcmpl-broken", "choices": [ {"message": ')
        elif endpoint == "embeddings":
            self._embeddings(body, log)
        else:
            self._chat(body, model, kind, log, fault, presented_key)

    def _chat(self, body: dict, model: str | None, kind: str | None, log: Callable, fault: Fault | None = None,
              presented_key: str = "") -> None:
        messages = body.get("messages") or []
        text = "this is not JSON {" if kind == "bad_content" else self.owner.responder(messages, model or "")
        if kind == "echo_key":
            text = json.dumps({"answer": f"your key is {key_echoes(presented_key)}"})
        prompt_tokens, completion_tokens = _tokens(_messages_text(messages)), _tokens(text)
        if kind == "overcount_prompt":
            prompt_tokens = int(prompt_tokens * fault.factor) + 1
        if kind == "ignore_max_tokens" and body.get("max_tokens"):
            completion_tokens = int(int(body["max_tokens"]) * fault.factor)
            text = json.dumps({"answer": "word " * completion_tokens})
        log(200, prompt_tokens, completion_tokens)
        self._send(200, {
            "id": f"chatcmpl-local-{len(self.owner.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        })

    def _embeddings(self, body: dict, log: Callable) -> None:
        from allixios.ai.offline_embedder import embed_text

        inputs = body.get("input")
        inputs = [inputs] if isinstance(inputs, str) else list(inputs or [])
        dimension = int(body.get("dimensions") or self.owner.embedding_dimension)
        data = [{"object": "embedding", "index": i, "embedding": embed_text(str(t), dimension)} for i, t in enumerate(inputs)]
        prompt_tokens = sum(_tokens(str(t)) for t in inputs)
        log(200, prompt_tokens)
        self._send(200, {"object": "list", "data": data, "model": body.get("model"),
                         "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}})


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Local OpenAI-compatible server with fault injection.")
    parser.add_argument("--port", type=int, default=8799)
    parser.add_argument("--latency-ms", type=int, default=0)
    args = parser.parse_args(argv)
    server = LocalLLMServer(port=args.port, latency_ms=args.latency_ms).start()
    print(f"local LLM server on {server.url} (Ctrl-C to stop)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
