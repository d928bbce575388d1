"""Reports: terminal table, JSON document, self-contained HTML with inline SVG charts."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from pydantic import TypeAdapter

from scenarios.expectations import ExpectationResult, RunResults, evaluate
from scenarios.ledger import Difference, Ledger
from scenarios.report import (
    REPORT_FORMAT,
    render_differences,
    render_html,
    render_table,
    report_json,
    write_reports,
)
from scenarios.schema import Expectation, ExpectationSpec

T0 = 1_767_225_600.0
_ADAPTER: TypeAdapter[ExpectationSpec] = TypeAdapter(Expectation)


def _run(tmp_path: Path) -> tuple[RunResults, list[ExpectationResult]]:
    ledger = Ledger(tmp_path / "r.sqlite", scenario="report <&> test", run_id="r-1", start_at=T0)
    for i in range(300):
        key = f"m-{i:06d}"
        at = T0 + i * 0.5
        ledger.record_accepted(key, at, parts=1)
        ledger.record_submit(key, 1, at)
        ledger.record_resp(key, 1, at + 0.02 + (i % 7) / 100, status=0x58 if i % 50 == 0 else 0)
        stat = "DELIVRD" if i % 10 else "UNDELIV"
        ledger.record_receipt(key, 1, at + 3, stat=stat)
        ledger.record_final(key, at + 3, "delivered" if i % 10 else "undeliverable")
    results = ledger.results(end_at=T0 + 160, wall_s=4.2)
    ledger.close(results)
    specs = [
        _ADAPTER.validate_python(text)
        for text in ("delivered_ratio >= 0.95", "all_terminal", "p99 submit_to_resp_ms <= 200")
    ]
    return results, evaluate(specs, results)


def test_terminal_table(tmp_path: Path) -> None:
    results, verdicts = _run(tmp_path)
    table = render_table(results, verdicts)
    assert "scenario report <&> test  run r-1  seed 0" in table
    assert "FAIL  delivered_ratio >= 0.95" in table
    assert "delivered_ratio 0.9 < 0.95 by 0.05" in table
    assert "PASS  all_terminal" in table
    assert "receipts  DELIVRD 270 (90.0%), UNDELIV 30 (10.0%)" in table
    assert table.splitlines()[-1] == "FAILED: 1 of 3 expectations do not hold"


def test_json_document(tmp_path: Path) -> None:
    results, verdicts = _run(tmp_path)
    doc = report_json(results, verdicts, meta={"build_version": "v1"}, outcomes=True)
    assert set(doc) == {"format", "scenario", "run_id", "seed", "passed", "expectations",
                        "results", "meta"}  # fmt: skip
    assert doc["format"] == REPORT_FORMAT
    assert doc["passed"] is False
    assert [e["passed"] for e in doc["expectations"]] == [False, True, True]
    assert set(doc["expectations"][0]) == {"name", "kind", "passed", "observed", "op",
                                           "threshold", "margin", "detail"}  # fmt: skip
    assert doc["results"]["counters"]["messages_delivered"] == 270
    assert len(doc["results"]["outcomes"]) == 300
    assert doc["results"]["series"]["bucket_s"] > 0
    json.dumps(doc, allow_nan=False)


def test_html_is_self_contained_with_svg_charts(tmp_path: Path) -> None:
    results, verdicts = _run(tmp_path)
    page = render_html(results, verdicts, meta={"build_version": "v1<script>"})
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") == 3  # throughput, latency, receipt mix
    assert "<script" not in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "report &lt;&amp;&gt; test" in page
    assert "v1&lt;script&gt;" in page
    assert "FAILED: 1 of 3 expectations do not hold" in page
    for chunk in page.split("<svg")[1:]:
        svg = "<svg" + chunk.split("</svg>")[0] + "</svg>"
        ET.fromstring(svg)  # each chart is well-formed XML
    assert '<path d="M' in page


def test_html_without_data(tmp_path: Path) -> None:
    empty = RunResults("empty", "e-1", 0, T0, T0, {})
    page = render_html(empty, [])
    assert "no series in these results" in page
    assert "no receipts" in page


def test_write_reports(tmp_path: Path) -> None:
    results, verdicts = _run(tmp_path)
    json_path, html_path = write_reports(tmp_path, results, verdicts, meta={"speed": 10})
    assert json.loads(json_path.read_text(encoding="utf-8"))["meta"] == {"speed": 10}
    assert "<svg" in html_path.read_text(encoding="utf-8")


def test_render_differences_lists_each_difference_and_counts_messages() -> None:
    assert render_differences([]) == "no difference"
    text = render_differences(
        [
            Difference("main-000001", "state", "delivered", "expired"),
            Difference("main-000001", "part[1].stat", "DELIVRD", None),
            Difference("main-000002", "events", "-", "misdelivery," + "x" * 80),
        ],
        labels=("run A", "run B"),
        width=80,
    )
    lines = text.splitlines()
    assert lines[0].split() == ["key", "field", "run", "A", "run", "B"]
    assert lines[1].split() == ["main-000001", "state", "delivered", "expired"]
    assert lines[2].split() == ["main-000001", "part[1].stat", "DELIVRD", "(none)"]
    assert lines[3].endswith("…")
    assert all(len(line) <= 80 for line in lines)
    assert lines[-1] == "3 differences in 2 messages"
