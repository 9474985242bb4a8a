"""`kill -9` of a real `allixios serve` mid-load: no acknowledged event is lost, nothing doubles.

Senders post page views (each with its own id) as fast as the server takes them; the server lands
its write-ahead log every half second, so some events are already in raw when it dies and some are
only in the log. After a restart, the new process lands the log again: every event the first one
answered 202 for is in raw exactly once, and nothing that was never sent is there.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from allixios.db.engine import connect
from tests.collector_support import event, headers, make_site, view_id
from tests.site_support import live_article

PATH = "/personal-finance/emergency-fund-basics/"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(port: int, env: dict) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "allixios.cli", "serve", "--port", str(port), "--no-dispatch"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"allixios serve exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/system/live", timeout=1, trust_env=False).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    pytest.fail("allixios serve did not start")


def test_kill_9_mid_load_loses_no_acknowledged_event_and_duplicates_nothing(sample_tenant, db, tmp_path):
    with connect(db) as conn:
        live_article(conn, sample_tenant, "personal_finance", "emergency-fund-basics", "Emergency Fund Basics")
    site = make_site(db, sample_tenant)
    env = {**os.environ, "ALLIXIOS_HOME": str(tmp_path / "home"), "ALLIXIOS_COLLECTOR_LAND_INTERVAL_S": "0.5",
           "ALLIXIOS_COLLECTOR_RATE_VISITOR": "1000000"}
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1/collect"
    proc = start(port, env)
    attempted: set[str] = set()
    acked: set[str] = set()
    lock, stop = threading.Lock(), threading.Event()

    def sender():
        with httpx.Client(timeout=10, trust_env=False) as client:
            while not stop.is_set():
                vid = view_id()
                with lock:
                    attempted.add(vid)
                try:
                    resp = client.post(url, content=json.dumps(event(site.site_key, "view", vid, PATH)),
                                       headers=headers())
                except httpx.HTTPError:
                    return  # the server is gone
                if resp.status_code == 202:
                    with lock:
                        acked.add(vid)

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 60
        while len(acked) < 300 and time.monotonic() < deadline:
            time.sleep(0.05)
        with connect(db) as conn:  # the landing is under way: some rows are in raw already
            landed_before = conn.execute("SELECT count(*) FROM raw.page_events").fetchone()[0]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=15)
        if proc.poll() is None:
            proc.kill()
    acked_at_kill = set(acked)
    assert len(acked_at_kill) >= 300

    proc = start(port, env)  # the restarted server lands what the dead one acknowledged
    try:
        deadline = time.monotonic() + 90
        while True:
            with connect(db) as conn:
                loaded = [r[0] for r in conn.execute("SELECT event_id FROM raw.page_events").fetchall()]
            if acked_at_kill <= set(loaded) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        time.sleep(1.5)  # a few more landings: they must not change anything
        with connect(db) as conn:
            loaded = [r[0] for r in conn.execute("SELECT event_id FROM raw.page_events").fetchall()]
            files = conn.execute("""SELECT rows_read, rows_loaded, rows_rejected, rows_duplicate
                                    FROM raw.ingested_files""").fetchall()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    missing = acked_at_kill - set(loaded)
    assert not missing, f"{len(missing)} acknowledged events lost"
    assert len(loaded) == len(set(loaded)), "an event was loaded twice"
    assert set(loaded) <= attempted  # nothing invented
    assert sum(f[0] for f in files) == len(loaded) and all(f[2] == f[3] == 0 for f in files)
    print(f"acknowledged {len(acked_at_kill)}, in raw before the kill {landed_before}, after restart {len(loaded)}")
