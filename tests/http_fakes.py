"""A small real HTTP server for target faults: records every request, answers as told (status, body, delay).

Used as a CDN purge API (Cloudflare's answer shape) and as a misbehaving WordPress (401, 500,
timeouts, echoes of the Authorization header). It binds 127.0.0.1 on a free port.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body or b"null")


Responder = Callable[[Seen], tuple[int, object]]


def cloudflare_ok(_req: Seen) -> tuple[int, object]:
    return 200, {"success": True, "errors": [], "messages": [], "result": {"id": "purge"}}


@dataclass
class FakeHTTP:
    respond: Responder = cloudflare_ok
    delay: float = 0.0
    requests: list[Seen] = field(default_factory=list)

    def start(self) -> FakeHTTP:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                seen = Seen(self.command, self.path, dict(self.headers), self.rfile.read(length) if length else b"")
                fake.requests.append(seen)
                if fake.delay:
                    time.sleep(fake.delay)
                status, body = fake.respond(seen)
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            do_GET = do_POST = do_DELETE = do_PUT = _any

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
