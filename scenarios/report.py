"""Reports of a run: a terminal table, a JSON document and a self-contained HTML page.

    verdicts = evaluate(scenario.expectations, results)
    print(render_table(results, verdicts))
    write_reports(run, results, verdicts)      # results.json + report.html in the run directory

The HTML page draws its charts as inline SVG written here by hand (throughput over time, latency
over time, receipt mix): no JavaScript, no fonts, no network, nothing to install. It opens from
disk in any browser and can be attached to a ticket as one file.

Invariants:
    * Pure rendering: inputs are a `RunResults`, the verdicts and optional metadata; outputs are
      strings (and, in `write_reports` only, files). No clock, no randomness.
    * Every text that comes from a scenario or a run (names, reasons, metric values) is escaped
      before it enters the HTML.
    * The JSON document has a fixed top level: ``format``, ``scenario``, ``run_id``, ``seed``,
      ``passed``, ``expectations``, ``results``, ``meta``.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from scenarios.errors import ReportError
from scenarios.expectations import ExpectationResult, RunResults, Series, format_number
from scenarios.ledger import Difference, RunDirectory
from scenarios.schema import METRICS

__all__ = [
    "REPORT_FORMAT",
    "render_differences",
    "render_html",
    "render_table",
    "report_json",
    "write_reports",
]

#: Identifies the JSON document's layout.
REPORT_FORMAT: Final[str] = "smsh-report/1"

#: Counters shown first in the table (then every other counter that moved).
_HEADLINE: Final[tuple[str, ...]] = (
    "messages_planned",
    "messages_accepted",
    "messages_refused",
    "messages_delivered",
    "messages_terminal",
    "messages_not_terminal",
    "submit_attempts",
    "throttled",
    "receipts_received",
    "misdeliveries",
    "spoof_delivered_into_thread",
    "delivered_in_quiet_hours",
    "mo_sent",
    "mo_received",
)


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{format_number(round(seconds, 1))} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours:02d}h {minutes:02d}m"
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    return f"{minutes}m {secs:02d}s"


def _counters(results: RunResults) -> list[tuple[str, int]]:
    shown = [(name, results.counter(name)) for name in _HEADLINE]
    rest = sorted(
        (name, value)
        for name, value in results.counters.items()
        if name not in _HEADLINE and value and name in METRICS
    )
    return shown + rest


def _passed(verdicts: Sequence[ExpectationResult]) -> bool:
    return all(v.passed for v in verdicts)


# ---------------------------------------------------------------------------------------------
# Terminal
# ---------------------------------------------------------------------------------------------


def render_table(
    results: RunResults, verdicts: Sequence[ExpectationResult], *, width: int = 100
) -> str:
    """The results and the verdicts as plain text for a terminal.

    Args:
        results: The run's results.
        verdicts: The expectations' verdicts.
        width: Line width to fit (long margins are cut with an ellipsis).

    Returns:
        Lines joined by newlines, ending with the overall verdict.
    """
    wall = "" if results.wall_s is None else f", wall {_duration(results.wall_s)}"
    lines = [
        f"scenario {results.scenario}  run {results.run_id or '-'}  seed {results.seed}",
        f"simulated {_duration(results.duration_s)}{wall}",
        "",
        "counters",
    ]
    counters = _counters(results)
    name_w = max(len(n) for n, _ in counters)
    for name, value in counters:
        lines.append(f"  {name:<{name_w}}  {value:>10,}")
    if results.latencies:
        lines += ["", "latency (ms)"]
        head = f"  {'series':<22} {'count':>8} {'p50':>10} {'p95':>10} {'p99':>10} {'max':>10}"
        lines.append(head)
        for name, s in sorted(results.latencies.items()):
            cells = " ".join(f"{format_number(v):>10}" for v in (s.p50, s.p95, s.p99, s.max))
            lines.append(f"  {name:<22} {s.count:>8,} {cells}")
    if results.receipt_mix:
        total = sum(results.receipt_mix.values())
        mix = ", ".join(
            f"{stat} {n:,} ({100 * n / total:.1f}%)"
            for stat, n in sorted(results.receipt_mix.items(), key=lambda kv: -kv[1])
        )
        lines += ["", f"receipts  {mix}"]
    if verdicts:
        lines += ["", "expectations"]
        label_w = min(40, max(len(v.name) for v in verdicts))
        for v in verdicts:
            mark = "PASS" if v.passed else "FAIL"
            room = max(10, width - label_w - 10)
            margin = v.margin if len(v.margin) <= room else v.margin[: room - 1] + "…"
            lines.append(f"  {mark}  {v.name:<{label_w}}  {margin}")
        failed = sum(1 for v in verdicts if not v.passed)
        lines += [
            "",
            (
                f"PASSED: all {len(verdicts)} expectations hold"
                if not failed
                else f"FAILED: {failed} of {len(verdicts)} expectations do not hold"
            ),
        ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------------------------


def render_differences(
    differences: Sequence[Difference],
    *,
    labels: tuple[str, str] = ("original", "replay"),
    width: int = 100,
) -> str:
    """Per-message differences between two runs (`scenarios.ledger.compare_ledgers`) as a table.

    Args:
        differences: The differences, in the order to show them.
        labels: Column titles of the first and the second run.
        width: Line width to fit (long values are cut with an ellipsis).

    Returns:
        A header line, one line per difference (key, field, first run, second run) and a
        closing count; ``no difference`` when there is none.
    """
    if not differences:
        return "no difference"
    rows = [
        (d.key, d.field, "(none)" if d.a is None else d.a, "(none)" if d.b is None else d.b)
        for d in differences
    ]
    key_w = max(3, *(len(r[0]) for r in rows))
    field_w = max(5, *(len(r[1]) for r in rows))
    value_w = max(8, (width - key_w - field_w - 8) // 2)

    def cut(text: str) -> str:
        return text if len(text) <= value_w else text[: value_w - 1] + "…"

    first, second = labels
    lines = [f"{'key':<{key_w}}  {'field':<{field_w}}  {first:<{value_w}}  {second}"]
    for key, name, a, b in rows:
        lines.append(f"{key:<{key_w}}  {name:<{field_w}}  {cut(a):<{value_w}}  {cut(b)}".rstrip())
    keys = len({d.key for d in differences})
    noun = "difference" if len(differences) == 1 else "differences"
    lines.append(f"{len(differences)} {noun} in {keys} message{'' if keys == 1 else 's'}")
    return "\n".join(lines)


def report_json(
    results: RunResults,
    verdicts: Sequence[ExpectationResult],
    *,
    meta: Mapping[str, Any] | None = None,
    outcomes: bool = False,
) -> dict[str, Any]:
    """The report as a JSON-ready document.

    Args:
        results: The run's results.
        verdicts: The expectations' verdicts.
        meta: Run metadata (build version, speed, ...), stored under ``meta``.
        outcomes: Include every per-message outcome.

    Returns:
        ``{"format", "scenario", "run_id", "seed", "passed", "expectations", "results", "meta"}``.
    """
    return {
        "format": REPORT_FORMAT,
        "scenario": results.scenario,
        "run_id": results.run_id,
        "seed": results.seed,
        "passed": _passed(verdicts),
        "expectations": [
            {
                "name": v.name,
                "kind": v.kind,
                "passed": v.passed,
                "observed": v.observed,
                "op": v.op,
                "threshold": v.threshold,
                "margin": v.margin,
                "detail": v.detail,
            }
            for v in verdicts
        ],
        "results": results.to_json(outcomes=outcomes),
        "meta": dict(meta or {}),
    }


# ---------------------------------------------------------------------------------------------
# SVG charts
# ---------------------------------------------------------------------------------------------

_W: Final[int] = 720
_H: Final[int] = 260
_PAD_L: Final[int] = 64
_PAD_R: Final[int] = 16
_PAD_T: Final[int] = 46
_PAD_B: Final[int] = 40
_COLORS: Final[tuple[str, ...]] = (
    "#1f77b4",
    "#2ca02c",
    "#d62728",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#17becf",
)
_STAT_COLORS: Final[Mapping[str, str]] = {
    "DELIVRD": "#2ca02c",
    "UNDELIV": "#d62728",
    "EXPIRED": "#ff7f0e",
    "REJECTD": "#9467bd",
    "UNKNOWN": "#7f7f7f",
    "DELETED": "#8c564b",
}


def _nice_step(span: float, ticks: int = 5) -> float:
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= m * power:
            return m * power
    return 10 * power


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _svg_empty(title: str, note: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} 80" width="{_W}" height="80"'
        f' role="img" aria-label="{_esc(title)}"><text x="8" y="20" class="t">{_esc(title)}'
        f'</text><text x="8" y="52" class="n">{_esc(note)}</text></svg>'
    )


def _line_chart(
    title: str,
    series: Sequence[tuple[str, Sequence[float | None]]],
    grid: Series,
    unit: str,
    *,
    log: bool = False,
) -> str:
    present = [(label, values) for label, values in series if any(v for v in values)]
    if not present:
        return _svg_empty(title, "no data")
    finite = [v for _, values in present for v in values if v is not None and v > 0]
    top = max(finite) if finite else 1.0
    inner_w, inner_h = _W - _PAD_L - _PAD_R, _H - _PAD_T - _PAD_B
    n = max(len(values) for _, values in present)
    if log:
        low = min(finite) if finite else 1.0
        lo_exp, hi_exp = math.floor(math.log10(low)), math.ceil(math.log10(top))
        hi_exp = max(hi_exp, lo_exp + 1)

        def y_of(v: float) -> float:
            v = max(v, 10.0**lo_exp)
            return _PAD_T + inner_h * (1 - (math.log10(v) - lo_exp) / (hi_exp - lo_exp))

        y_ticks = [10.0**e for e in range(lo_exp, hi_exp + 1)]
    else:
        step = _nice_step(top)
        y_max = step * math.ceil(top / step) if top > 0 else 1.0

        def y_of(v: float) -> float:
            return _PAD_T + inner_h * (1 - v / y_max)

        y_ticks = [step * i for i in range(round(y_max / step) + 1)]

    def x_of(i: int) -> float:
        return _PAD_L + inner_w * ((i + 0.5) / n)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" width="{_W}"'
        f' height="{_H}" role="img" aria-label="{_esc(title)}">',
        f'<text x="{_PAD_L}" y="18" class="t">{_esc(title)}</text>',
    ]
    for tick in y_ticks:
        y = y_of(tick)
        out.append(
            f'<line x1="{_PAD_L}" x2="{_W - _PAD_R}" y1="{y:.1f}" y2="{y:.1f}" class="g"/>'
            f'<text x="{_PAD_L - 6}" y="{y + 4:.1f}" class="a" text-anchor="end">'
            f"{_esc(format_number(tick))}</text>"
        )
    span = n * grid.bucket_s
    x_step = _nice_step(span, 6)
    t = 0.0
    while t <= span + 1e-9:
        x = _PAD_L + inner_w * (t / span) if span > 0 else _PAD_L
        out.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{_PAD_T + inner_h}" y2="{_PAD_T + inner_h + 4}"'
            f' class="k"/><text x="{x:.1f}" y="{_PAD_T + inner_h + 18}" class="a"'
            f' text-anchor="middle">{_esc(format_number(t))}</text>'
        )
        t += x_step
    out.append(
        f'<text x="{_PAD_L + inner_w / 2:.1f}" y="{_H - 4}" class="a" text-anchor="middle">'
        f"seconds since start (scenario clock)</text>"
        f'<text x="14" y="{_PAD_T + inner_h / 2:.1f}" class="a" text-anchor="middle"'
        f' transform="rotate(-90 14 {_PAD_T + inner_h / 2:.1f})">{_esc(unit)}</text>'
        f'<rect x="{_PAD_L}" y="{_PAD_T}" width="{inner_w}" height="{inner_h}" class="f"/>'
    )
    legend_x = _PAD_L
    for k, (label, values) in enumerate(present):
        color = _COLORS[k % len(_COLORS)]
        path: list[str] = []
        pen_up = True
        for i, v in enumerate(values):
            if v is None or (log and v <= 0):
                pen_up = True
                continue
            path.append(f"{'M' if pen_up else 'L'}{x_of(i):.1f},{y_of(v):.1f}")
            pen_up = False
        if path:
            out.append(
                f'<path d="{" ".join(path)}" fill="none" stroke="{color}" stroke-width="1.6">'
                f"<title>{_esc(label)}</title></path>"
            )
        out.append(
            f'<rect x="{legend_x}" y="26" width="10" height="10" fill="{color}"/>'
            f'<text x="{legend_x + 14}" y="35" class="a">{_esc(label)}</text>'
        )
        legend_x += 24 + 7 * len(label)
    out.append("</svg>")
    return "".join(out)


def _bar_chart(title: str, mix: Mapping[str, int]) -> str:
    if not mix:
        return _svg_empty(title, "no receipts")
    items = sorted(mix.items(), key=lambda kv: (-kv[1], kv[0]))
    total = sum(mix.values())
    row = 24
    height = _PAD_T + row * len(items) + 12
    inner_w = _W - 160 - 120
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {height}" width="{_W}"'
        f' height="{height}" role="img" aria-label="{_esc(title)}">',
        f'<text x="8" y="18" class="t">{_esc(title)}</text>',
    ]
    biggest = items[0][1]
    for i, (stat, n) in enumerate(items):
        y = _PAD_T + i * row
        w = inner_w * n / biggest if biggest else 0
        color = _STAT_COLORS.get(stat, "#7f7f7f")
        out.append(
            f'<text x="150" y="{y + 15}" class="a" text-anchor="end">{_esc(stat)}</text>'
            f'<rect x="160" y="{y + 4}" width="{w:.1f}" height="{row - 8}" fill="{color}">'
            f"<title>{_esc(stat)}: {n}</title></rect>"
            f'<text x="{160 + w + 6:.1f}" y="{y + 15}" class="a">{n:,}'
            f" ({100 * n / total:.1f}%)</text>"
        )
    out.append("</svg>")
    return "".join(out)


_CSS: Final[str] = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#222;
max-width:980px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
.muted{color:#666}.pass{color:#1a7f37;font-weight:600}.fail{color:#cf222e;font-weight:600}
table{border-collapse:collapse;margin:4px 0}td,th{padding:3px 10px;border-bottom:1px solid #eee;
text-align:left;vertical-align:top}td.num{text-align:right;font-variant-numeric:tabular-nums}
.banner{padding:8px 12px;border-radius:6px;margin:12px 0;font-weight:600}
.banner.pass{background:#dafbe1}.banner.fail{background:#ffebe9}
svg{display:block;margin:8px 0;max-width:100%;height:auto}
svg .t{font:600 13px sans-serif}svg .a{font:11px sans-serif;fill:#444}
svg .n{font:12px sans-serif;fill:#888}svg .g{stroke:#eee}svg .k{stroke:#999}
svg .f{fill:none;stroke:#ccc}
"""


def render_html(
    results: RunResults,
    verdicts: Sequence[ExpectationResult],
    *,
    meta: Mapping[str, Any] | None = None,
) -> str:
    """The report as one self-contained HTML page with inline SVG charts.

    Args:
        results: The run's results (with its `series` for the charts).
        verdicts: The expectations' verdicts.
        meta: Run metadata shown in the header (build_version, speed, ...).

    Returns:
        The HTML document.
    """
    info = dict(meta or {})
    ok = _passed(verdicts)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>smsh report: {_esc(results.scenario)} {_esc(results.run_id)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{_esc(results.scenario)}</h1>",
        f'<div class="muted">run {_esc(results.run_id or "-")} · seed {results.seed} · '
        f"simulated {_esc(_duration(results.duration_s))}"
        + ("" if results.wall_s is None else f" · wall {_esc(_duration(results.wall_s))}")
        + "".join(
            f" · {_esc(k)} {_esc(info[k])}"
            for k in ("build_version", "speed", "created_at")
            if k in info
        )
        + "</div>",
    ]
    if verdicts:
        failed = sum(1 for v in verdicts if not v.passed)
        banner = (
            f"PASSED: all {len(verdicts)} expectations hold"
            if ok
            else f"FAILED: {failed} of {len(verdicts)} expectations do not hold"
        )
        parts.append(f'<div class="banner {"pass" if ok else "fail"}">{_esc(banner)}</div>')
        parts.append("<h2>Expectations</h2><table><tr><th></th><th>expectation</th>")
        parts.append("<th>observed</th><th>detail</th></tr>")
        for v in verdicts:
            cls = "pass" if v.passed else "fail"
            parts.append(
                f'<tr><td class="{cls}">{"PASS" if v.passed else "FAIL"}</td>'
                f"<td>{_esc(v.name)}</td><td>{_esc(v.margin)}</td>"
                f'<td class="muted">{_esc(v.detail)}</td></tr>'
            )
        parts.append("</table>")
    series = results.series
    parts.append("<h2>Throughput</h2>")
    if series is not None:
        parts.append(
            _line_chart(
                "messages per second",
                [
                    ("submit_sm", series.values.get("submit_attempts_per_s", ())),
                    ("ESME_ROK", series.values.get("submit_ok_per_s", ())),
                    ("throttled", series.values.get("throttled_per_s", ())),
                    ("delivered", series.values.get("messages_delivered_per_s", ())),
                    ("receipts", series.values.get("receipts_received_per_s", ())),
                    ("MO", series.values.get("mo_received_per_s", ())),
                ],
                series,
                "msg/s",
            )
        )
        parts.append("<h2>Latency</h2>")
        parts.append(
            _line_chart(
                "latency per bucket (log scale)",
                [
                    ("submit→resp p50", series.values.get("submit_to_resp_ms_p50", ())),
                    ("submit→resp p99", series.values.get("submit_to_resp_ms_p99", ())),
                    ("submit→receipt p50", series.values.get("submit_to_receipt_ms_p50", ())),
                    ("submit→receipt p99", series.values.get("submit_to_receipt_ms_p99", ())),
                ],
                series,
                "ms",
                log=True,
            )
        )
    else:
        parts.append(_svg_empty("messages per second", "no series in these results"))
    parts.append("<h2>Receipts</h2>")
    parts.append(_bar_chart("receipt mix (final receipts by stat)", results.receipt_mix))
    parts.append("<h2>Counters</h2><table>")
    for name, value in _counters(results):
        desc = METRICS[name].description if name in METRICS else ""
        parts.append(
            f'<tr><td>{_esc(name)}</td><td class="num">{value:,}</td>'
            f'<td class="muted">{_esc(desc)}</td></tr>'
        )
    parts.append("</table>")
    if results.latencies:
        parts.append("<h2>Latency statistics (ms)</h2><table><tr><th>series</th>")
        parts.append("<th>count</th><th>p50</th><th>p95</th><th>p99</th><th>max</th></tr>")
        for name, s in sorted(results.latencies.items()):
            cells = "".join(
                f'<td class="num">{_esc(format_number(x))}</td>'
                for x in (s.p50, s.p95, s.p99, s.max)
            )
            parts.append(f'<tr><td>{_esc(name)}</td><td class="num">{s.count:,}</td>{cells}</tr>')
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_reports(
    run: RunDirectory | Path | str,
    results: RunResults,
    verdicts: Sequence[ExpectationResult],
    *,
    meta: Mapping[str, Any] | None = None,
    outcomes: bool = False,
) -> tuple[Path, Path]:
    """Write ``results.json`` and ``report.html`` into a run directory.

    Args:
        run: The run directory (or its path).
        results: The run's results.
        verdicts: The verdicts.
        meta: Run metadata; None: the run directory's.
        outcomes: Put every per-message outcome into the JSON.

    Returns:
        The two paths.

    Raises:
        ReportError: A file cannot be written.
    """
    if isinstance(run, RunDirectory):
        directory, info = run.path, dict(run.meta)
    else:
        directory, info = Path(run), {}
    if meta is not None:
        info = {**info, **meta}
    json_path, html_path = directory / "results.json", directory / "report.html"
    try:
        doc = report_json(results, verdicts, meta=info, outcomes=outcomes)
        json_path.write_text(
            json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n",
            encoding="utf-8",
        )
        html_path.write_text(render_html(results, verdicts, meta=info), encoding="utf-8")
    except (OSError, ValueError) as exc:
        raise ReportError(f"{directory}: cannot write the reports: {exc}") from None
    return json_path, html_path
