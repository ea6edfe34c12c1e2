"""flext-otel benchmark suite: every hot path against its raw OpenTelemetry SDK twin.

    python benchmarks/run.py                  # full run; writes benchmarks/results.md
    python benchmarks/run.py --quick          # smoke run (CI): same cases, tiny batches
    python benchmarks/run.py --only span      # one case (repeatable, or comma-separated)
    python benchmarks/run.py --only span --merge  # re-run cases, replace their rows in results.md
    python benchmarks/run.py --readme         # regenerate README.md's table from results.md
    nox -s bench                              # full run in a fresh venv with the peers

A run that writes ``results.md`` also regenerates the README's performance table
(``readme_table.py``). ``--require-peers`` (CI) fails when a peer row did not run.

Each comparison runs both sides in the same process, interleaved over several
rounds, and reports median ns/op and the ratio (see ``harness.py``). Cases that
set OTel globals (the ``logfire`` peer) or measure memory run in a subprocess.
A missed target is reported, not fatal, unless ``--check`` is given.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # run as a script or imported from elsewhere
    sys.path.insert(0, str(HERE))

from harness import ROWS_MARKER, Row, Settings, in_subprocess, markdown_table  # noqa: E402
from readme_table import cells, table_lines  # noqa: E402
from readme_table import update as update_readme  # noqa: E402

RESULTS = HERE / "results.md"

Case = Callable[[Settings], list[Row]]


def _in_process(module: str, function: str) -> Case:
    def run(settings: Settings) -> list[Row]:
        case: Case = getattr(__import__(module), function)
        return case(settings)

    return run


def _subprocess(task: str) -> Case:
    def run(settings: Settings) -> list[Row]:
        return in_subprocess(task, settings)

    return run


#: Cases in table order: name -> how to run it in the parent process.
CASES: dict[str, Case] = {
    "floors": _in_process("cases", "floors"),
    "span": _in_process("cases", "span"),
    "decorator": _in_process("cases", "decorator"),
    "metric": _in_process("cases", "metric"),
    "logging": _in_process("cases", "logging_handler"),
    "scrubbing": _in_process("cases", "scrubbing"),
    "export": _subprocess("export"),
    "peers": _subprocess("peers"),
    "memory": _in_process("memory", "memory"),
    "store": _in_process("bench_store", "store"),
    "metrics": _in_process("bench_metrics", "metric_path"),
    "metrics-peers": _subprocess("metrics-peers"),
    "ingest": _subprocess("ingest"),
}

#: What a ``--child`` interpreter can run.
TASKS: dict[str, Case] = {
    "export": _in_process("export", "export"),
    "peers": _in_process("peers", "peers"),
    "memory-rss": _in_process("memory", "rss_child"),
    "memory-store": _in_process("memory", "store_bytes_child"),
    "memory-inmemory": _in_process("memory", "in_memory_bytes_child"),
    "store": _in_process("bench_store", "store_child"),
    "metrics-peers": _in_process("bench_metrics", "metric_peers"),
    "ingest": _in_process("ingest", "ingest"),
}


# -- environment -------------------------------------------------------------------


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    """The CPU model from /proc/cpuinfo (or the platform's best guess)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment() -> dict[str, str]:
    """Date, Python, package versions and CPU of this run."""
    packages = {
        name: version
        for name in ("flext-otel", "opentelemetry-sdk", "opentelemetry-api", "logfire", "grpcio")
        if (version := _version(name)) is not None
    }
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": ", ".join(f"{name} {version}" for name, version in packages.items()),
        "cpu": f"{cpu_model()} ({os.cpu_count()} logical CPUs), {platform.system()}",
    }


def report(rows: list[Row], env: dict[str, str], command: str, seconds: float) -> str:
    """The markdown document written to ``results.md``."""
    return "\n".join(
        [
            "# Benchmark results",
            "",
            f"- date: {env['date']}",
            f"- command: `{command}` ({seconds:.0f} s)",
            f"- Python: {env['python']}",
            f"- packages: {env['packages']}",
            f"- CPU: {env['cpu']}",
            "",
            markdown_table(rows),
            "",
            "Each ratio compares two sides measured in the same process, interleaved "
            "(A/B, then B/A) over several rounds: times are the median ns/op of each side, "
            "the ratio is the median of the per-round ratios and the last column their "
            "range. Time ratios are flext-otel / baseline (lower is better) except the peer "
            "rows, which say how many times faster flext-otel is. "
            "See benchmarks/README.md for what each case measures.",
            "",
        ]
    )


RERUN = " (re-run)"
"""Suffix of the case cell of rows that ``--merge`` replaced."""


def merged(previous: str, rows: list[Row], env: dict[str, str], command: str) -> str:
    """``previous`` results with the rows of the cases in ``rows`` replaced by these.

    Rows of other cases keep their place and numbers; the header keeps the full
    run's environment and gains a ``re-run`` line naming the cases, date and command.
    """
    new_table = markdown_table(rows).splitlines()
    fresh: dict[str, list[str]] = {}
    for line in new_table[2:]:
        case = cells(line)[0]
        marked = line.replace(f"| {case} |", f"| {case}{RERUN} |", 1)
        fresh.setdefault(case, []).append(marked)
    replaced = set(fresh)
    old_table = table_lines(previous)
    body: list[str] = list(old_table[:2])
    for line in old_table[2:]:
        case = cells(line)[0].removesuffix(RERUN)
        if case in fresh:
            body.extend(fresh.pop(case))
        elif case not in replaced:
            body.append(line)
    for lines in fresh.values():  # cases the previous run did not have
        body.extend(lines)
    cases = sorted({row.case for row in rows})
    rerun = (
        f"- re-run: {', '.join(cases)} on {env['date']} with `{command}` (rows marked{RERUN}; "
        "the machine's load differs between runs: compare their ratios, not their times, "
        "with the other rows)"
    )
    text = previous.replace("\n".join(old_table), "\n".join(body))
    header, sep, rest = text.partition("\n\n| case |")
    header = "\n".join(line for line in header.splitlines() if not line.startswith("- re-run:"))
    return header + "\n" + rerun + sep + rest


# -- main --------------------------------------------------------------------------


def _selected(only: list[str]) -> list[str]:
    names = [name for item in only for name in item.split(",") if name]
    unknown = [name for name in names if name not in CASES]
    if unknown:
        raise SystemExit(f"unknown case(s) {unknown}; cases are {list(CASES)}")
    return names or list(CASES)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny batches, < 60 s")
    parser.add_argument(
        "--only", action="append", default=[], metavar="CASE", help=f"one of {list(CASES)}"
    )
    parser.add_argument("--rounds", type=int, default=None, help="rounds per comparison")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="results file (default: benchmarks/results.md for a full run of every case, "
        "none for --quick or --only)",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="replace the selected cases' rows in benchmarks/results.md (keeping the others)",
    )
    parser.add_argument(
        "--readme", action="store_true", help="only regenerate README.md's table from results.md"
    )
    parser.add_argument(
        "--require-peers", action="store_true", help="exit 1 when a peer row did not run"
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the selected cases, print the table, write the results file."""
    args = _parser().parse_args(argv)
    settings = Settings.for_mode(args.quick, args.rounds)

    if args.child is not None:
        child_rows = TASKS[args.child](settings)
        print(ROWS_MARKER + json.dumps([row.to_json() for row in child_rows]), flush=True)
        return 0

    if args.readme:
        changed = update_readme()
        print(f"README.md {'updated' if changed else 'already up to date'}", file=sys.stderr)
        return 0
    if args.merge and (args.quick or not args.only):
        raise SystemExit("--merge needs --only CASE and a full (not --quick) run")
    names = _selected(args.only)
    started = time.monotonic()
    rows: list[Row] = []
    for name in names:
        case_started = time.monotonic()
        print(f"-- {name} ...", file=sys.stderr, flush=True)
        rows.extend(CASES[name](settings))
        print(f"   {name}: {time.monotonic() - case_started:.1f} s", file=sys.stderr, flush=True)
    seconds = time.monotonic() - started
    table = markdown_table(rows)
    print(table)
    output = args.output
    if output is None and not args.quick and not args.only:
        output = RESULTS
    given = argv if argv is not None else sys.argv[1:]
    command = " ".join(["python benchmarks/run.py", *given]).strip()
    if args.merge:
        output = output or RESULTS
        previous = output.read_text(encoding="utf-8")
        output.write_text(merged(previous, rows, environment(), command), encoding="utf-8")
        print(f"\nmerged into {output}", file=sys.stderr)
    elif output is not None:
        output.write_text(report(rows, environment(), command, seconds), encoding="utf-8")
        print(f"\nwritten to {output}", file=sys.stderr)
    if output is not None and output.resolve() == RESULTS and update_readme():
        print("README.md's performance table regenerated", file=sys.stderr)
    missed = [row for row in rows if row.verdict == "MISSED"]
    not_run = [row for row in rows if row.not_run]
    print(
        f"\n{len(rows)} rows, {len(missed)} target(s) missed, {len(not_run)} not run, "
        f"{seconds:.1f} s",
        file=sys.stderr,
    )
    for row in not_run:
        print(f"NOT RUN: {row.case}: {row.subject}: {row.not_run}", file=sys.stderr)
    if args.require_peers and not_run:
        return 1
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
