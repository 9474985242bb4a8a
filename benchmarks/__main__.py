"""`python -m benchmarks [--quick] [NAME ...]`: run benchmarks, print tables, write benchmarks/results.json.

Each benchmark runs in a child process (`--child`, internal) with its own fresh database, so its peak
memory is its own and a crash or leak cannot affect the next one.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import BENCHMARKS
from benchmarks import harness as h


@dataclass
class BenchContext:
    """What a benchmark's `run` gets: its database, sizes, a report to fill and a scratch folder."""

    name: str
    size: str
    params: dict[str, Any]
    url: Any  # sqlalchemy URL of the benchmark's own database (migrated, empty)
    report: h.Report
    workdir: Path
    setup_from: str | None = None  # a set-up snapshot this database is a copy of (benchmarks/setups.py)
    setup_to: str | None = None  # where to keep this run's set-up for the next runs (--reuse-setup)
    sampler: Any = None

    def setup(self, build):
        """``build()``'s value (JSON-able: its timings), with the data it created in the database —
        from a snapshot of an earlier run of this commit when the parent made this database a
        copy of one, else built now (and kept when `--reuse-setup` asked for it). Everything after
        it is measured on every run."""
        from benchmarks import setups

        if self.setup_from:
            record = setups.info(self.url, self.setup_from) or {}
            self.report.metric("set-up", f"reused: a copy of the set-up built at {record.get('built_at')} by an "
                                         "earlier run of this commit (its set-up timings are that run's)")
            return record.get("value")
        value = build()
        if self.setup_to:
            with self.sampler.paused() if self.sampler else contextlib.nullcontext():
                setups.snapshot(self.url, self.setup_to, value)
            self.report.metric("set-up", "built in this run (kept for the next runs of this commit)")
        return value


def load(name: str):
    return importlib.import_module(f"benchmarks.{name}")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help="small sizes that finish in seconds (CI smoke)")
    parser.add_argument("--output", type=Path, default=None,
                        help="results file, merged by benchmark name (default: benchmarks/results.json, or "
                             "benchmarks/results-quick.json with --quick, so a smoke run never replaces a full-size figure)")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help=f"run each benchmark N times; goals are decided on the median of {h.RUNS_TO_DECIDE} runs of one commit")
    parser.add_argument("--decide", action="store_true",
                        help="print each goal's median, min and max over the history of this commit (runs nothing)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and whether they can run here")
    parser.add_argument("--reuse-setup", action="store_true",
                        help="share a benchmark's data set-up between its runs of this commit: the first run "
                             "keeps a copy of its database after the set-up, the next ones start from a copy of it "
                             "(said in each report; see benchmarks/setups.py)")
    parser.add_argument("--drop-setups", action="store_true", help="remove the kept set-up copies and exit")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--result-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--setup-from", help=argparse.SUPPRESS)
    parser.add_argument("--setup-to", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.output is None:
        args.output = h.QUICK_RESULTS_PATH if args.quick else h.RESULTS_PATH
    if args.child:
        return _run_child(args.child, "quick" if args.quick else "full", args.database, args.result_file,
                          args.setup_from, args.setup_to)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        print(f"error: unknown benchmark {', '.join(unknown)} — fix: pick from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    names = args.names or list(BENCHMARKS)
    if args.list:
        for name in BENCHMARKS:
            module = load(name)
            missing = module.missing_dependencies()
            print(f"{name:24} {'ready' if not missing else 'waiting: ' + missing}\n    {module.DESCRIPTION}")
        return 0
    size = "quick" if args.quick else "full"
    if args.drop_setups:
        from allixios.db import server
        from benchmarks import setups

        dropped = setups.drop_all(server.app_url())
        print(f"dropped {len(dropped)} set-up copies" + (f": {', '.join(dropped)}" if dropped else ""))
        return 0
    if args.decide:
        print(h.render_decisions(h.read_history(h.history_path(args.output)), names, size))
        return 0
    if args.repeat < 1:
        print(f"error: --repeat {args.repeat} runs nothing — fix: give --repeat 1 or more", file=sys.stderr)
        return 2
    from allixios.db import server

    machine = h.machine_info(server.app_url())
    print(f"machine: {machine['cores']} cores, {machine['ram_gb']} GB RAM, {machine['cpu']}; PostgreSQL "
          f"{machine.get('postgres')} (shared_buffers {machine.get('shared_buffers')}), pgvector {machine.get('pgvector')}")
    reports = []
    for name in names:
        for attempt in range(args.repeat):
            if args.repeat > 1:
                print(f"# {name}: run {attempt + 1} of {args.repeat}", flush=True)
            report = _run_in_child(name, size, args.reuse_setup)
            report = h.merge_results(args.output, machine, [report])["benchmarks"][name]
            print(h.render_report(report) + "\n", flush=True)
        reports.append(report)
    print(h.render_summary(reports))
    print(f"\nresults: {args.output}")
    return 0 if all(r["status"] in ("ok", "skipped") for r in reports) else 1


def _run_in_child(name: str, size: str, reuse_setup: bool = False) -> dict[str, Any]:
    module = load(name)
    missing = module.missing_dependencies()
    if missing:
        report = h.Report(name=name, size=size, status="skipped", error=f"waiting for: {missing}")
        return report.as_dict()
    db_name = h.new_database_name(name)
    with tempfile.TemporaryDirectory(prefix=f"bench_{name}_") as tmp:
        result_file = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "benchmarks", "--child", name, "--database", db_name, "--result-file", str(result_file)]
        if size == "quick":
            cmd.append("--quick")
        if reuse_setup:
            from benchmarks import setups

            template = setups.template_name(name, size, dict(module.SIZES[size]))
            if setups.info(h.database_url(db_name), template) is not None:
                setups.clone(h.database_url(db_name), template)
                cmd += ["--setup-from", template]
                print(f"# {name}: starting from the set-up copy {template}", flush=True)
            else:
                cmd += ["--setup-to", template]
        print(f"# {name} ({size}) in a child process, database {db_name}", flush=True)
        started_on = {k: v for k, v in h.provenance().items() if k in ("commit", "dirty")}
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=Path(__file__).resolve().parent.parent)
        try:
            # wait4 gives this child's own rusage: ru_maxrss is the peak of the child and every descendant it reaped
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        except KeyboardInterrupt:
            proc.terminate()
            proc.wait()
            raise
        finally:
            h.drop_database(h.database_url(db_name))
        elapsed = time.perf_counter() - started
        if result_file.exists():
            report = json.loads(result_file.read_text())
        else:
            report = h.Report(name=name, size=size, status="error", error=f"child exited with {proc.returncode} and wrote no result").as_dict()
        report["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)  # Linux reports kilobytes
        report["elapsed_s"] = round(elapsed, 1)
        report["started_on"] = started_on
        return report


def _run_child(name: str, size: str, db_name: str, result_file: Path, setup_from: str | None = None,
               setup_to: str | None = None) -> int:
    module = load(name)
    params = dict(module.SIZES[size])
    report = h.Report(name=name, size=size, params=params)
    url = h.database_url(db_name)
    with tempfile.TemporaryDirectory(prefix=f"bench_{name}_home_") as home:
        h.point_environment_at(url, Path(home))
        try:
            h.create_database(url)
            ctx = BenchContext(name, size, params, url, report, Path(home), setup_from, setup_to)
            report.load["start"] = round(os.getloadavg()[0], 2)
            with h.PostgresMemorySampler(url) as sampler:
                ctx.sampler = sampler
                module.run(ctx)
            report.pg = sampler.summary()
            report.load["end"] = round(os.getloadavg()[0], 2)
        except Exception as exc:  # the report says what broke; the parent carries on with the next benchmark
            traceback.print_exc()
            report.status = "error"
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            report.error = f"{type(exc).__name__}: {first}"
        finally:
            from allixios.db.engine import dispose_all

            dispose_all()
    result_file.write_text(json.dumps(report.as_dict(), default=str))
    return 0 if report.status == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
