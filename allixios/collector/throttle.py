"""The collector's rate limit: fixed one-minute windows counted in this worker's memory.

The API's own limiter (allixios/api/ratelimit.py) counts in PostgreSQL so that every worker shares
one budget; for the collector that is one UPSERT on one hot row (the site's counter) per beacon
request, which serialises all requests of a site and was a fifth of the accept time. Here each
worker counts for itself: with W workers a visitor gets at most W x the limit per minute (a
visitor's keep-alive connection normally stays with one worker). Abuse protection, not billing.
"""

from __future__ import annotations

import math
import threading
import time

from allixios.api.ratelimit import WINDOW_S, Decision


class Throttle:
    def __init__(self):
        self._window = 0
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def hit(self, visitor: str, site: str, visitor_limit: int, site_limit: int) -> Decision:
        now = time.time()
        start = math.floor(now / WINDOW_S) * WINDOW_S
        reset = max(1, int(math.ceil(start + WINDOW_S - now)))
        with self._lock:
            if start != self._window:  # a new minute: the old counters go (memory stays bounded)
                self._window, self._counts = start, {}
            v = self._counts[visitor] = self._counts.get(visitor, 0) + 1
            s = self._counts[site] = self._counts.get(site, 0) + 1
        v_left, s_left = visitor_limit - v, site_limit - s
        if v_left < s_left:
            return Decision(v_left >= 0, visitor_limit, max(0, v_left), reset, "credential")
        return Decision(s_left >= 0, site_limit, max(0, s_left), reset, "tenant")


throttle = Throttle()
