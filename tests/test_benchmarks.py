"""The benchmark suite's bookkeeping: honest rows in results.md, NOT RUN peers, --merge."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"


@pytest.fixture(scope="module")
def bench() -> Iterator[dict[str, ModuleType]]:
    """The benchmark modules, imported the way run.py imports them (benchmarks/ on sys.path)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import harness
        import peers
        import readme_table
        import run

        yield {"harness": harness, "peers": peers, "readme_table": readme_table, "run": run}
    finally:
        sys.path.remove(str(BENCHMARKS))


def _subjects(results: str, bench: dict[str, ModuleType]) -> list[tuple[str, str, str]]:
    rt = bench["readme_table"]
    rows = [rt.cells(line) for line in rt.table_lines(results)[2:]]
    return [(row[0].removesuffix(" (re-run)"), row[1], row[3]) for row in rows]


def test_results_report_both_the_flattering_and_the_honest_cases(
    bench: dict[str, ModuleType],
) -> None:
    """results.md has scrubbing with repeated and unique values, and both decorator twins."""
    rows = _subjects((BENCHMARKS / "results.md").read_text(encoding="utf-8"), bench)
    scrubbing = [subject for case, subject, _ in rows if case == "scrubbing"]
    assert any("same dict every span" in s for s in scrubbing)
    assert any("unique per span" in s for s in scrubbing)
    twins = [baseline for case, _, baseline in rows if case == "decorator"]
    assert sum("start_span + attach" in b and "like for like" in b for b in twins) == 2
    assert sum("start_as_current_span" in b for b in twins) == 2
    assert sum(case == "peer" for case, _, _ in rows) == 3


def test_a_peer_that_did_not_run_says_so_in_the_table(bench: dict[str, ModuleType]) -> None:
    """Without logfire the three peer rows stay in the table, marked NOT RUN with the reason."""
    rows = bench["peers"].not_run("logfire is not installed")
    table = bench["harness"].markdown_table(rows)
    assert len(rows) == 3
    assert table.count("NOT RUN") == 3
    assert table.count("logfire is not installed") == 3
    assert "0 ns" not in table
    again = [bench["harness"].Row.from_json(row.to_json()) for row in rows]
    assert [row.verdict for row in again] == ["NOT RUN"] * 3


def test_require_peers_fails_a_run_whose_peer_did_not_run(
    bench: dict[str, ModuleType],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """run.py --require-peers exits 1 (and names the row) when a peer row is NOT RUN."""
    run = bench["run"]
    monkeypatch.setitem(run.CASES, "peers", lambda settings: bench["peers"].not_run("absent"))
    assert run.main(["--quick", "--only", "peers", "--require-peers"]) == 1
    assert "NOT RUN: peer" in capsys.readouterr().err
    assert run.main(["--quick", "--only", "peers"]) == 0


def test_merge_replaces_only_the_rerun_cases_and_marks_them(bench: dict[str, ModuleType]) -> None:
    """--merge swaps the re-run cases' rows in place, keeps the rest, and says so in the header."""
    harness, run = bench["harness"], bench["run"]
    old = [
        harness.Row("floor", "bare call", 30.0),
        harness.Row("scrubbing", "old scrubbing row", 100.0),
        harness.Row("memory", "rss", 7.0, unit="MB"),
    ]
    env = {"date": "D", "python": "P", "packages": "K", "cpu": "C"}
    previous = run.report(old, env, "python benchmarks/run.py", 1.0)
    new = [harness.Row("scrubbing", "repeated", 10.0), harness.Row("scrubbing", "unique", 20.0)]
    text = run.merged(previous, new, env, "python benchmarks/run.py --only scrubbing --merge")
    subjects = [row[1] for row in _subjects(text, bench)]
    assert subjects == ["bare call", "repeated", "unique", "rss"]
    assert "| scrubbing (re-run) | unique |" in text
    assert text.count("- re-run: scrubbing on D") == 1
    again = run.merged(text, new, env, "again")
    assert [row[1] for row in _subjects(again, bench)] == subjects
    assert again.count("- re-run:") == 1


def test_the_logfire_peer_is_pinned_once_and_required_where_benchmarks_run(
    bench: dict[str, ModuleType],
) -> None:
    """The bench extra pins logfire to the range peers.py names; nox and CI require the peer."""
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    extra = re.search(r"^bench = \[(.*?)^\]", pyproject, flags=re.S | re.M)
    assert extra is not None, "pyproject.toml has no bench extra"
    assert re.findall(r'"(logfire[^"]*)"', extra.group(1)) == [f"logfire{bench['peers'].PINNED}"]
    noxfile = (ROOT / "noxfile.py").read_text(encoding="utf-8")
    assert ".[all,test,bench]" in noxfile
    assert '"--require-peers"' in noxfile
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install -q -e '.[bench]'" in ci
    assert "benchmarks/run.py --quick --require-peers" in ci
