"""bench.suite: medians and ranges, ratios and goals, the table, the history and README rewrites.

The pure parts take values and return values; `run_suite` is driven with a fake runner; one test
runs the smallest real measurement (the client's ceiling, in a child process) end to end.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench import suite
from bench.capacity import carrier_destinations, simulator_config
from bench.suite import (
    HISTORY_MARKER,
    README_END,
    README_START,
    Comparison,
    Figure,
    Item,
    Outcome,
    Report,
    Summary,
    evaluate,
    format_value,
    prepend_history,
    render_table,
    replace_between,
    report_json,
    run_suite,
    summarise,
)
from simulator.config import config_from_mapping

NOW = datetime(2026, 11, 24, 22, 5, tzinfo=UTC)


def fig(key: str, value: float, unit: str = "msg/s") -> Figure:
    return Figure(key, f"label of {key}", unit, value)


def summary(key: str, median: float, low: float, high: float) -> Summary:
    return Summary(key, key, "msg/s", "higher", median, low, high, 3)


# -- summarise ----------


def test_summarise_median_and_range_per_key_in_first_seen_order() -> None:
    runs = [
        [fig("a.x", 10), fig("a.y", 1)],
        [fig("a.x", 30), fig("a.y", 3)],
        [fig("a.x", 20), fig("a.y", 2)],
    ]
    out = summarise(runs)
    assert [s.key for s in out] == ["a.x", "a.y"]
    assert (out[0].median, out[0].low, out[0].high, out[0].runs) == (20, 10, 30, 3)
    assert (out[1].median, out[1].low, out[1].high) == (2, 1, 3)


def test_summarise_even_count_uses_the_mean_of_the_middle_two() -> None:
    out = summarise([[fig("a.x", 1)], [fig("a.x", 2)], [fig("a.x", 4)], [fig("a.x", 10)]])
    assert out[0].median == 3


def test_summarise_skips_nan_and_counts_only_runs_with_the_figure() -> None:
    out = summarise([[fig("a.x", 5), fig("a.y", math.nan)], [fig("a.x", 7)], []])
    assert [(s.key, s.runs, s.median) for s in out] == [("a.x", 2, 6)]


# -- evaluate ----------


def test_ratio_of_medians_with_paired_range_and_goal() -> None:
    summaries = [summary("sim.a", 300, 250, 360), summary("node.a", 100, 90, 125)]
    met = evaluate(Comparison("x", "sim.a", "node.a", goal=3.0), summaries, {})
    assert met.value == pytest.approx(3.0)
    assert met.low == pytest.approx(250 / 125)
    assert met.high == pytest.approx(360 / 90)
    assert met.status == "met"
    short = evaluate(Comparison("x", "sim.a", "node.a", goal=3.5), summaries, {})
    assert short.status == "not met"
    free = evaluate(Comparison("x", "sim.a", "node.a"), summaries, {})
    assert free.status == "-"


def test_cost_is_one_minus_ratio_and_met_when_at_most_the_goal() -> None:
    summaries = [summary("sim.on", 80, 70, 90), summary("sim.off", 100, 95, 110)]
    verdict = evaluate(Comparison("c", "sim.on", "sim.off", goal=0.30, kind="cost"), summaries, {})
    assert verdict.value == pytest.approx(0.20)
    assert verdict.low == pytest.approx(1 - 90 / 95)
    assert verdict.high == pytest.approx(1 - 70 / 110)
    assert verdict.status == "met"
    worse = evaluate(Comparison("c", "sim.on", "sim.off", goal=0.10, kind="cost"), summaries, {})
    assert worse.status == "not met"


def test_missing_figure_names_its_items_reason() -> None:
    summaries = [summary("gateway.receipts", 2000, 1900, 2100)]
    problems = {"kannel": "skipped: Kannel not installable: no apt-get"}
    verdict = evaluate(
        Comparison("g", "gateway.receipts", "kannel.receipts", goal=10), summaries, problems
    )
    assert verdict.value is None
    assert verdict.status == "missing: skipped: Kannel not installable: no apt-get"
    unknown = evaluate(Comparison("g", "gateway.receipts", "node.x"), summaries, {})
    assert unknown.status == "missing: not measured"


# -- rendering ----------


def test_format_value() -> None:
    assert format_value(35149.38, "msg/s") == "35,149"
    assert format_value(46.94, "µs") == "46.9"
    assert format_value(2.118, "µs") == "2.12"
    assert format_value(0.2, "%") == "20 %"
    assert format_value(3.04, "×") == "3.04×"
    assert format_value(12.34, "×") == "12.3×"


def _report() -> Report:
    summaries = [
        summary("sim.a", 300, 250, 360),
        summary("node.a", 100, 90, 125),
        summary("gateway.r", 2000, 1900, 2100),
    ]
    comparisons = [
        Comparison("simulator / node-smpp", "sim.a", "node.a", goal=3.0),
        Comparison("gateway / Kannel", "gateway.r", "kannel.r", goal=10.0),
    ]
    problems = {"kannel": "skipped: no Kannel"}
    return Report(
        date="2026-11-24 22:05",
        mode="quick",
        runs=3,
        machine={
            "cpu": "Test CPU",
            "cores": "2",
            "ram": "7.7 GiB",
            "python": "3.11.7",
            "os": "Debian GNU/Linux 12",
            "kernel": "6.1",
        },
        settings=["Receipts on everywhere."],
        summaries=summaries,
        verdicts=[evaluate(c, summaries, problems) for c in comparisons],
        problems=problems,
        wall_s=95.2,
    )


def test_render_table_has_machine_date_figures_verdicts_and_problems() -> None:
    text = render_table(_report())
    lines = text.splitlines()
    assert lines[0] == "### smsh bench — 2026-11-24 22:05 UTC (quick, 3 runs per item, 95 s)"
    assert "Test CPU, 2 cores, 7.7 GiB RAM; Python 3.11.7; Debian GNU/Linux 12" in text
    assert "- Receipts on everywhere." in lines
    assert "| sim.a | 300 | 250 – 360 | msg/s | 3 |" in lines
    assert "| simulator / node-smpp | **3.00×** | 2.00× – 4.00× | × | ≥ 3×: **met** |" in lines
    assert "| gateway / Kannel | – | – | × | ≥ 10×; missing: skipped: no Kannel |" in lines
    assert "| kannel | skipped: no Kannel | | | |" in lines
    table = [line for line in lines if line.startswith("|")]
    assert all(line.count("|") == 6 for line in table)


def test_report_json_round_trips() -> None:
    data = json.loads(json.dumps(report_json(_report())))
    assert data["mode"] == "quick"
    assert data["summaries"][0]["key"] == "sim.a"
    assert data["verdicts"][0]["status"] == "met"
    assert data["problems"] == {"kannel": "skipped: no Kannel"}


# -- history and README ----------


def test_prepend_history_creates_the_file_then_puts_newest_first() -> None:
    first = prepend_history("", "### run 1\n| a |\n")
    assert first.startswith("# Benchmark results")
    assert HISTORY_MARKER in first
    second = prepend_history(first, "### run 2\n| b |\n")
    assert second.index("### run 2") < second.index("### run 1")
    assert second.count(HISTORY_MARKER) == 1
    assert second.index(HISTORY_MARKER) < second.index("### run 2")
    assert second.endswith("| a |\n")


def test_prepend_history_keeps_text_found_without_a_marker() -> None:
    out = prepend_history("old notes\n", "### new\n")
    assert out.index("### new") < out.index("old notes")


def test_replace_between_rewrites_only_the_block() -> None:
    text = f"# T\n\nbefore\n{README_START}\nold table\n{README_END}\nafter\n"
    out = replace_between(text, README_START, README_END, "new table\n")
    assert out == f"# T\n\nbefore\n{README_START}\nnew table\n{README_END}\nafter\n"
    again = replace_between(out, README_START, README_END, "newer")
    assert "new table" not in again
    assert "newer" in again


def test_replace_between_refuses_missing_or_reversed_markers() -> None:
    with pytest.raises(ValueError, match="markers"):
        replace_between("no markers", README_START, README_END, "x")
    with pytest.raises(ValueError, match="markers"):
        replace_between(f"{README_END}\n{README_START}\n", README_START, README_END, "x")


def test_record_writes_history_and_readme(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    readme = tmp_path / "README.md"
    readme.write_text(f"# P\n## Performance\n{README_START}\nold\n{README_END}\n## Next\n")
    suite.record("### table 1\n", results, readme)
    suite.record("### table 2\n", results, readme)
    history = results.read_text()
    assert history.index("### table 2") < history.index("### table 1")
    text = readme.read_text()
    assert "### table 2" in text
    assert "### table 1" not in text
    assert text.endswith(f"{README_END}\n## Next\n")


# -- run_suite with a fake runner ----------


def test_run_suite_rounds_skips_and_failures() -> None:
    calls: list[str] = []
    values = iter([100.0, 300.0, 200.0])

    def runner(item: Item, quick: bool) -> Outcome:
        calls.append(item.name)
        assert quick
        if item.name == "kannel":
            return Outcome(skipped="no Kannel here")
        if item.name == "gateway":
            if calls.count("gateway") == 2:
                return Outcome(failed="RuntimeError: boom")
            return Outcome(figures=[fig("gateway.receipts", 2000)])
        return Outcome(figures=[fig("sim.off.s1w100.submit", next(values))])

    lines: list[str] = []
    report = run_suite(
        quick=True,
        runs=3,
        only=["sim", "gateway", "kannel"],
        now=NOW,
        progress=lines.append,
        runner=runner,
    )
    assert calls == ["sim", "gateway", "kannel", "sim", "gateway", "sim", "gateway"]
    assert len(lines) == 7
    assert report.date == "2026-11-24 22:05"
    assert report.mode == "quick"
    by_key = {s.key: s for s in report.summaries}
    assert by_key["sim.off.s1w100.submit"].median == 200
    assert by_key["gateway.receipts"].runs == 2
    assert report.problems == {
        "kannel": "skipped: no Kannel here",
        "gateway": "failed 1 of 3 runs: RuntimeError: boom",
    }
    labels = {v.label: v for v in report.verdicts}
    target = "gateway / Kannel (store file): receipts/s (issue #5: target 3×, goal 10×)"
    assert labels[target].status == "missing: skipped: no Kannel here"
    assert labels[target].goal == 3.0
    # Comparisons with an item outside --only are left out, not reported as missing.
    assert not any("node-smpp" in label for label in labels)


def test_run_suite_refuses_unknown_items() -> None:
    with pytest.raises(ValueError, match="unknown item"):
        run_suite(quick=True, runs=1, only=["nope"], now=NOW, progress=print)


def test_every_comparison_refers_to_figures_of_registered_items() -> None:
    names = {item.name for item in suite.ITEMS}
    for quick in (True, False):
        for comparison in suite.comparisons(quick):
            assert comparison.ours.split(".")[0] in names
            assert comparison.theirs.split(".")[0] in names


# -- the capacity configuration ----------


def test_simulator_configs_validate_and_use_the_window() -> None:
    for carrier in (False, True):
        config = config_from_mapping(
            simulator_config(carrier=carrier, delivery_window=100, receipt_delay=0.0)
        )
        assert config.delivery.window == 100
        assert (config.network is not None) is carrier
    config = config_from_mapping(
        simulator_config(carrier=True, delivery_window=10, receipt_delay=0.0)
    )
    assert config.network is not None
    population = config.network.config.population
    first, last = population.ranges[0].first, population.ranges[0].last
    numbers = carrier_destinations()
    assert population.size == len(numbers) == int(last) - int(first) + 1
    assert numbers[0] == "81" + first[1:]
    assert numbers[-1] == "81" + last[1:]
    bigger = config_from_mapping(
        simulator_config(carrier=True, delivery_window=10, receipt_delay=0.0, subscribers=20_000)
    )
    assert bigger.network is not None
    assert bigger.network.config.population.size == 20_000
    assert bigger.network.config.population.ranges[0].last == "09010019999"


# -- one real measurement ----------


def test_the_smallest_measurement_runs_for_real() -> None:
    item = next(i for i in suite.ITEMS if i.name == "ceiling")
    outcome = suite.run_item(item, quick=True)
    assert outcome.failed is None, outcome.failed
    assert outcome.skipped is None
    keys = {f.key for f in outcome.figures}
    assert keys == {
        f"ceiling.s{s}w{w}.{what}"
        for s, w in suite.capacity_cases(True)
        for what in ("submit", "receipts")
    }
    assert all(f.value > 100 for f in outcome.figures)


def test_smsh_bench_is_registered_and_lists_the_items(capsys: pytest.CaptureFixture[str]) -> None:
    from scenarios.cli import main

    assert main(["bench", "--list"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == [item.name for item in suite.ITEMS]


def test_smsh_bench_refuses_unknown_items(capsys: pytest.CaptureFixture[str]) -> None:
    from scenarios.cli import main

    assert main(["bench", "--only", "sim,nope"]) == 2
    assert "unknown item(s): nope" in capsys.readouterr().err


def test_run_child_reports_figures_skips_and_failures(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def skip(quick: bool) -> list[Figure]:
        raise suite.Skip("no node here")

    def fail(quick: bool) -> list[Figure]:
        raise OSError("port in use")

    def ok(quick: bool) -> list[Figure]:
        return [fig("ok.x", 2.0 if quick else 1.0)]

    items = tuple(Item(name, name, fn, 1, 1) for name, fn in (("s", skip), ("f", fail), ("ok", ok)))
    monkeypatch.setattr(suite, "ITEMS", items)

    def last_json() -> dict[str, object]:
        out = capsys.readouterr().out.strip().splitlines()[-1]
        data: dict[str, object] = json.loads(out)
        return data

    assert suite.run_child("s", quick=True) == 0
    assert last_json() == {"skipped": "no node here"}
    suite.run_child("f", quick=True)
    assert last_json() == {"failed": "OSError: port in use"}
    suite.run_child("ok", quick=True)
    assert last_json() == {
        "figures": [
            {
                "key": "ok.x",
                "label": "label of ok.x",
                "unit": "msg/s",
                "value": 2.0,
                "better": "higher",
            }
        ]
    }
