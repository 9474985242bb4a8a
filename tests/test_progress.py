"""The terminal side of `make run`: plain lines when piped, one rewritten status line on a terminal,
and the simulator's result as one readable line."""

import io

from allixios_assets.progress import Progress
from allixios_assets.runner import simulator_line


def test_plain_lines_when_not_a_terminal():
    lines: list[str] = []
    p = Progress(lines.append, tty=False)
    p.status("  sample.x: topics done (   2s)")
    p.line("  sample.x: ok")
    assert lines == ["  sample.x: topics done (   2s)", "  sample.x: ok"]


def test_a_terminal_gets_one_status_line_rewritten_in_place():
    stream, lines = io.StringIO(), []
    p = Progress(lines.append, tty=True, stream=stream)
    p.status("step one")
    p.status("step two")
    p.line("done")
    assert lines == ["done"]  # the status never became a permanent line
    assert stream.getvalue() == "\r\033[Kstep one\r\033[Kstep two\r\033[K"


def test_simulator_result_is_one_readable_line():
    sim = {"simulator": "offline traffic simulator", "tenant": "sample", "start": "2026-11-29", "end": "2026-12-01",
           "days": 3, "articles": 12, "page_events": 5000, "revenue_events": 120, "bad_rows": 6, "duplicates": 4,
           "files": 18, "drop_articles": [{"article_id": "a", "drop_day": "2026-11-30"}], "folder": "/abs/landing/events"}
    line = simulator_line(sim)
    assert "\n" not in line and "{" not in line
    assert line.startswith("offline traffic simulator: 5000 page views and 120 revenue events for 12 articles")
    assert "1 articles with a simulated drop" in line
