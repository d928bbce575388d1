"""``smsh bench``: run every performance measurement of the project and print one table.

Usage::

    smsh bench [--quick] [--json] [--runs 3] [--only ITEM,...] [--record]
    .venv/bin/python -m bench.suite [same options]

Theory of operation:

* The suite is a registry (`ITEMS`) of measurements. Each `Item` is a function that measures
  once and returns `Figure` values (a rate, a latency, a memory size). The parent never measures
  anything itself: every run of every item is a fresh ``python -m bench.suite --child ITEM``
  process (which starts its own servers and peers as its children), with a time budget; a run
  over budget is killed (its whole process group, which the suite created) and counted as failed.
* Every item runs ``--runs`` times (3 by default), in rounds (all items once, then all again),
  so that two figures that are compared were measured at about the same time. Each figure is
  reported as the median of its runs with the min-max range (`summarise`).
* Comparisons (`COMPARISONS`) combine two medians: ours / theirs against a peer on the same SMSC
  with the same client and load, or a cost (1 - with / without). A comparison with a goal says
  ``met`` or ``not met``; one whose figures are missing says why.
* An item whose peer cannot be installed (or whose tool is missing) raises `Skip`; the table
  shows ``skipped: why`` in its place. A failed run shows ``failed: why``. Nothing is dropped
  silently.
* ``--quick`` runs every item with fewer cases and smaller counts (under 2 minutes); the full
  run stays under 15. The table says which mode produced it.
* ``--record`` appends the table to bench/RESULTS.md (history, newest first, after the line
  `HISTORY_MARKER`) and rewrites README.md between `README_START` and `README_END`.

Figure keys start with the name of the item that measures them (``sim.off.s1w100.submit``), so
a missing figure can be traced to its item's skip or failure reason.

Everything listens on 127.0.0.1 only and every child process stops by itself.

Invariants: the pure parts (`summarise`, `evaluate`, `render_table`, `report_json`,
`prepend_history`, `replace_between`, `format_value`) take values and return values (no clock,
no I/O) and are unit-tested; the date enters only through `run_suite`'s ``now`` argument.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal, cast

from bench.capacity import CARRIER_SPEED, CARRIER_SUBSCRIBERS

ROOT: Final[Path] = Path(__file__).resolve().parents[1]
RESULTS_PATH: Final[Path] = ROOT / "bench" / "RESULTS.md"
README_PATH: Final[Path] = ROOT / "README.md"
HISTORY_MARKER: Final[str] = "<!-- bench:history (newest first) -->"
README_START: Final[str] = "<!-- bench:start -->"
README_END: Final[str] = "<!-- bench:end -->"

#: The simulator's outbound deliver_sm window (``delivery.window``) in every capacity run: its
#: default (10) caps the receipt rate of one session (see bench/README.md).
SIM_DELIVERY_WINDOW: Final[int] = 100
#: The fixed fate's receipt delay in the simulator capacity runs (carrier model off): none, as
#: the node-smpp server and the counting SMSC send each receipt right after the response, so
#: every SMSC carries both flows from the first message.
SIM_RECEIPT_DELAY: Final[float] = 0.0
#: bench.fast_smsc's receipt delay for the gateway and its peers (as in bench.gateway_load).
FAST_SMSC_RECEIPT_DELAY: Final[float] = 0.05
#: The window of every gateway-side run (ours and the peers').
GATEWAY_WINDOW: Final[int] = 100

Better = Literal["higher", "lower"]
Kind = Literal["ratio", "cost"]


class Skip(Exception):
    """The item cannot run here (a peer that cannot be installed, a missing tool)."""


@dataclass(frozen=True)
class Figure:
    """One value measured by one run of one item."""

    key: str
    """Stable identifier, starting with the item's name: ``sim.off.s1w100.submit``."""
    label: str
    """What it is, for the table."""
    unit: str
    """``msg/s``, ``µs``, ``MiB``, ``KiB``..."""
    value: float
    """The value."""
    better: Better = "higher"
    """Which direction is better."""


@dataclass(frozen=True)
class Summary:
    """A figure over all the runs of its item: median and range."""

    key: str
    """`Figure.key`."""
    label: str
    """`Figure.label`."""
    unit: str
    """`Figure.unit`."""
    better: Better
    """`Figure.better`."""
    median: float
    """Median of the runs."""
    low: float
    """Smallest run."""
    high: float
    """Largest run."""
    runs: int
    """How many runs produced it."""


@dataclass(frozen=True)
class Comparison:
    """ours / theirs (``kind="ratio"``) or 1 - ours / theirs (``kind="cost"``)."""

    label: str
    """What is compared, for the table."""
    ours: str
    """Key of our figure."""
    theirs: str
    """Key of the reference figure (a peer's, or ours without the feature)."""
    goal: float | None = None
    """ratio: met when ratio >= goal; cost: met when cost <= goal; None: no goal."""
    kind: Kind = "ratio"
    """How the two are combined."""


@dataclass(frozen=True)
class Verdict:
    """A `Comparison` evaluated on the summaries."""

    label: str
    """`Comparison.label`."""
    kind: Kind
    """`Comparison.kind`."""
    value: float | None
    """Ratio (or cost) of the medians; None when a figure is missing."""
    low: float | None
    """Lower end: from the two ranges' least and most favourable ends."""
    high: float | None
    """Upper end."""
    goal: float | None
    """`Comparison.goal`."""
    status: str
    """``met``, ``not met``, ``-`` (no goal) or ``missing: why``."""


@dataclass(frozen=True)
class Outcome:
    """What one run of one item produced."""

    figures: list[Figure] = field(default_factory=list)
    """The values (empty when skipped or failed)."""
    skipped: str | None = None
    """Why the item cannot run here."""
    failed: str | None = None
    """Why this run failed."""
    seconds: float = 0.0
    """Wall time of the run."""


@dataclass(frozen=True)
class Item:
    """One measurement of the registry."""

    name: str
    """Name (``--only``, ``--child``), no dots; every figure key starts with it."""
    title: str
    """What it measures, one line (``--list``)."""
    measure: Callable[[bool], list[Figure]]
    """Measure once (argument: quick) in a child process; may raise `Skip`."""
    budget_s: float
    """Time budget of one full run (the run is killed after it)."""
    quick_budget_s: float
    """Time budget of one quick run."""


@dataclass
class Report:
    """Everything one suite run produced."""

    date: str
    """When it started (UTC, ``YYYY-MM-DD HH:MM``)."""
    mode: Literal["quick", "full"]
    """--quick or not."""
    runs: int
    """Runs per item."""
    machine: dict[str, str]
    """`machine_description`."""
    settings: list[str]
    """What matters to read the figures (windows, receipts, counts), one line each."""
    summaries: list[Summary]
    """Every figure, in registry order."""
    verdicts: list[Verdict]
    """Every comparison."""
    problems: dict[str, str]
    """item -> ``skipped: why`` or ``failed: why`` (per-run failures are listed too)."""
    wall_s: float = 0.0
    """Wall time of the whole suite."""


# --------------------------------------------------------------------------------------------
# Pure parts
# --------------------------------------------------------------------------------------------


def summarise(runs: Sequence[Sequence[Figure]]) -> list[Summary]:
    """Median and min-max of each figure over the runs, in first-seen order.

    A figure missing from some runs is summarised over the runs that have it (`Summary.runs`
    says how many); NaN values are ignored; a figure with no value at all is left out.
    """
    first: dict[str, Figure] = {}
    values: dict[str, list[float]] = {}
    for run in runs:
        for figure in run:
            if figure.key not in first:
                first[figure.key] = figure
                values[figure.key] = []
            if not math.isnan(figure.value):
                values[figure.key].append(figure.value)
    out = []
    for key, figure in first.items():
        got = values[key]
        if got:
            out.append(
                Summary(
                    key=key,
                    label=figure.label,
                    unit=figure.unit,
                    better=figure.better,
                    median=statistics.median(got),
                    low=min(got),
                    high=max(got),
                    runs=len(got),
                )
            )
    return out


def evaluate(
    comparison: Comparison, summaries: Sequence[Summary], problems: dict[str, str]
) -> Verdict:
    """Evaluate one comparison on the summaries.

    The range pairs the ends of the two ranges: for a ratio, ours.low / theirs.high up to
    ours.high / theirs.low; a cost is 1 - ratio, so its range is 1 - those, reversed. A missing
    figure gives ``missing: <why>``, with the reason of its item (by key prefix) when known.
    """
    by_key = {s.key: s for s in summaries}
    ours, theirs = by_key.get(comparison.ours), by_key.get(comparison.theirs)
    if ours is None or theirs is None or theirs.median <= 0 or theirs.low <= 0:
        absent = comparison.ours if ours is None else comparison.theirs
        item = absent.split(".", 1)[0]
        reason = problems.get(item, "not measured" if by_key.get(absent) is None else "zero")
        return Verdict(
            comparison.label,
            comparison.kind,
            None,
            None,
            None,
            comparison.goal,
            f"missing: {reason}",
        )
    ratio = ours.median / theirs.median
    low, high = ours.low / theirs.high, ours.high / theirs.low
    if comparison.kind == "cost":
        value, low, high = 1 - ratio, 1 - high, 1 - low
    else:
        value = ratio
    if comparison.goal is None:
        status = "-"
    elif comparison.kind == "cost":
        status = "met" if value <= comparison.goal else "not met"
    else:
        status = "met" if value >= comparison.goal else "not met"
    return Verdict(comparison.label, comparison.kind, value, low, high, comparison.goal, status)


def format_value(value: float, unit: str) -> str:
    """A figure for the table: thousands separators for large values, 3 significant digits."""
    if unit == "%":
        return f"{value * 100:.0f} %"
    if unit == "×":
        return f"{value:.2f}×" if value < 10 else f"{value:.1f}×"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _range(low: float, high: float, unit: str) -> str:
    return f"{format_value(low, unit)} – {format_value(high, unit)}"


def _goal_text(verdict: Verdict) -> str:
    if verdict.goal is None:
        return verdict.status
    cost = verdict.kind == "cost"
    wanted = f"≤ {verdict.goal * 100:.0f} %" if cost else f"≥ {verdict.goal:g}×"
    return f"{wanted}: **{verdict.status}**" if verdict.value is not None else wanted


def render_table(report: Report) -> str:
    """The report as Markdown: a heading, the machine and settings, then one table.

    The table lists every figure (median, min – max, unit, runs), then every comparison (the
    ratio or cost of the medians, its range, its goal and whether it is met), then every item
    that was skipped or failed, with why.
    """
    m = report.machine
    lines = [
        f"### smsh bench — {report.date} UTC ({report.mode}, {report.runs} runs per item, "
        f"{report.wall_s:.0f} s)",
        "",
        f"Machine: {m.get('cpu', '?')}, {m.get('cores', '?')} cores, {m.get('ram', '?')} RAM; "
        f"Python {m.get('python', '?')}; {m.get('os', '?')} (kernel {m.get('kernel', '?')}).",
        "",
    ]
    lines.extend(f"- {setting}" for setting in report.settings)
    lines += [
        "",
        "| figure | median | min – max | unit | runs / goal |",
        "|---|---:|---:|---|---|",
    ]
    for s in report.summaries:
        lines.append(
            f"| {s.label} | {format_value(s.median, s.unit)} | {_range(s.low, s.high, s.unit)} "
            f"| {s.unit} | {s.runs} |"
        )
    for v in report.verdicts:
        unit = "%" if v.kind == "cost" else "×"
        if v.value is None or v.low is None or v.high is None:
            lines.append(f"| {v.label} | – | – | {unit} | {_goal_text(v)}; {v.status} |")
        else:
            lines.append(
                f"| {v.label} | **{format_value(v.value, unit)}** | {_range(v.low, v.high, unit)} "
                f"| {unit} | {_goal_text(v)} |"
            )
    for item, why in report.problems.items():
        lines.append(f"| {item} | {why} | | | |")
    return "\n".join(lines) + "\n"


def report_json(report: Report) -> dict[str, Any]:
    """The report as one JSON-ready object."""
    return asdict(report)


def prepend_history(existing: str, entry: str) -> str:
    """Insert `entry` right after `HISTORY_MARKER` (newest first); add the header if absent."""
    if HISTORY_MARKER not in existing:
        existing = (
            "# Benchmark results\n\n"
            "Every `smsh bench --record` adds its table here, newest first. The README's "
            "performance section shows the latest one.\n\n"
            f"{HISTORY_MARKER}\n" + (f"\n{existing.strip()}\n" if existing.strip() else "")
        )
    head, _, tail = existing.partition(HISTORY_MARKER)
    return f"{head}{HISTORY_MARKER}\n\n{entry.strip()}\n\n{tail.lstrip()}".rstrip() + "\n"


def replace_between(text: str, start: str, end: str, block: str) -> str:
    """Replace what lies between the `start` and `end` marker lines with `block`.

    Raises:
        ValueError: a marker is missing, or `end` comes before `start`.
    """
    i = text.find(start)
    j = text.find(end, i + len(start)) if i >= 0 else -1
    if i < 0 or j < 0:
        raise ValueError(f"markers {start!r} ... {end!r} not found in order")
    return f"{text[: i + len(start)]}\n{block.strip()}\n{text[j:]}"


# --------------------------------------------------------------------------------------------
# The machine
# --------------------------------------------------------------------------------------------


def _first_line(path: str, prefix: str) -> str | None:
    with contextlib.suppress(OSError), open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip() if ":" in line else line.strip()
    return None


def machine_description() -> dict[str, str]:
    """CPU model, cores, RAM, Python, OS and kernel of this machine."""
    ram = _first_line("/proc/meminfo", "MemTotal")
    ram_text = f"{int(ram.split()[0]) / 2**20:.1f} GiB" if ram else "?"
    os_name = "?"
    with contextlib.suppress(OSError), open("/etc/os-release", encoding="utf-8") as f:
        for line in f:
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip().strip('"')
    return {
        "cpu": _first_line("/proc/cpuinfo", "model name") or platform.processor() or "?",
        "cores": str(os.cpu_count() or "?"),
        "ram": ram_text,
        "python": platform.python_version(),
        "os": os_name,
        "kernel": platform.release(),
    }


# --------------------------------------------------------------------------------------------
# The measurements (each runs in a child process: ``python -m bench.suite --child NAME``)
# --------------------------------------------------------------------------------------------

#: Capacity cases: (sessions, window).
FULL_CASES: Final[tuple[tuple[int, int], ...]] = ((1, 1), (1, 10), (1, 100), (4, 100))
QUICK_CASES: Final[tuple[tuple[int, int], ...]] = ((1, 100), (4, 100))


def capacity_cases(quick: bool) -> tuple[tuple[int, int], ...]:
    """The (sessions, window) cases of the SMSC capacity items."""
    return QUICK_CASES if quick else FULL_CASES


def carrier_cases(quick: bool) -> tuple[tuple[int, int], ...]:
    """The (sessions, window) cases of the simulator with the carrier model."""
    return ((1, 100),) if quick else FULL_CASES


def capacity_count(sessions: int, window: int, quick: bool, carrier: bool = False) -> int:
    """submit_sm per capacity case: a few seconds for our simulator (a full run), so that the
    start and the last receipts weigh little; about one second in the quick mode. The carrier
    model is several times slower, so its runs send a half (a quarter when quick)."""
    if window == 1:
        count = 3_000 if quick else 10_000
    elif window < 100:
        count = 10_000 if quick else 40_000
    else:
        count = (20_000 if quick else 100_000) + (4_000 if quick else 20_000) * (sessions > 1)
    return count // (4 if quick else 2) if carrier else count


def capacity_warmup(window: int, quick: bool) -> int:
    """Unmeasured submit_sm sent first to every SMSC (see `bench.capacity.drive`)."""
    return min(capacity_count(1, window, quick) // 4, 5_000)


def gateway_count(quick: bool) -> int:
    """Messages per gateway-side run (ours and the peers')."""
    return 3_000 if quick else 20_000


def _case(sessions: int, window: int) -> str:
    return f"s{sessions}w{window}"


def _rates(prefix: str, who: str, sessions: int, window: int, r: dict[str, Any]) -> list[Figure]:
    if r["accepted"] < r["count"] or r["timed_out"] or r["submit_rate"] <= 0:
        raise RuntimeError(
            f"{who} {sessions}×{window}: {r['accepted']}/{r['count']} accepted, "
            f"{r['receipts']} receipts, timed_out={r['timed_out']}"
        )
    case = _case(sessions, window)
    where = f"{who}, {sessions} session{'s' if sessions > 1 else ''} × window {window}"
    return [
        Figure(f"{prefix}.{case}.submit", f"{where}: submit_sm/s", "msg/s", r["submit_rate"]),
        Figure(f"{prefix}.{case}.receipts", f"{where}: receipts/s", "msg/s", r["receipt_rate"]),
    ]


def _run_async(coro: Any) -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def measure_micro(quick: bool) -> list[Figure]:
    """Codec (simulator's and aiosmpplib's) and segmentation micro benchmarks (pytest-benchmark).

    Median over the benchmark's rounds, in µs per call.
    """
    wanted = {
        "test_bench_smpp_codec.py::test_bench_encode[submit_sm]": (
            "sim.encode.submit_sm",
            "simulator codec: encode submit_sm (UCS-2)",
        ),
        "test_bench_smpp_codec.py::test_bench_decode[submit_sm]": (
            "sim.decode.submit_sm",
            "simulator codec: decode submit_sm (UCS-2)",
        ),
        "test_bench_smpp_codec.py::test_bench_encode[deliver_sm]": (
            "sim.encode.deliver_sm",
            "simulator codec: encode deliver_sm (receipt)",
        ),
        "test_bench_smpp_codec.py::test_bench_decode[submit_sm_resp]": (
            "sim.decode.submit_sm_resp",
            "simulator codec: decode submit_sm_resp",
        ),
        "test_bench_esme_codec.py::test_bench_esme_encode_submit_sm": (
            "esme.encode.submit_sm",
            "gateway codec (aiosmpplib): encode submit_sm (UCS-2)",
        ),
        "test_bench_esme_codec.py::test_bench_esme_decode_deliver_sm": (
            "esme.decode.deliver_sm",
            "gateway codec (aiosmpplib): decode deliver_sm (receipt)",
        ),
        "test_bench_esme_codec.py::test_bench_esme_decode_submit_sm_resp": (
            "esme.decode.submit_sm_resp",
            "gateway codec (aiosmpplib): decode submit_sm_resp",
        ),
        "test_bench_segments.py::test_bench_plan[jp-70-single]": (
            "plan.jp70",
            "sms.segments.plan: 70-char Japanese, 1 part",
        ),
        "test_bench_segments.py::test_bench_plan[ascii-160-single]": (
            "plan.ascii160",
            "sms.segments.plan: 160-char ASCII, 1 part",
        ),
        "test_bench_segments.py::test_bench_plan[jp-670-ten-parts]": (
            "plan.jp670",
            "sms.segments.plan: 670-char Japanese, 10 parts",
        ),
    }
    with tempfile.TemporaryDirectory(prefix="smsh-bench-") as tmp:
        out = Path(tmp) / "micro.json"
        argv = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            "--benchmark-only",
            f"--benchmark-json={out}",
            "--benchmark-max-time=0.1" if quick else "--benchmark-max-time=1.0",
            "--benchmark-min-rounds=30" if quick else "--benchmark-min-rounds=100",
            *sorted({f"bench/{name}" for name in wanted}),
        ]
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(
                f"pytest-benchmark failed: {done.stdout[-1500:]}{done.stderr[-500:]}"
            )
        data = json.loads(out.read_text(encoding="utf-8"))
    medians = {b["fullname"].split("/")[-1]: b["stats"]["median"] for b in data["benchmarks"]}
    missing = set(wanted) - set(medians)
    if missing:
        raise RuntimeError(f"benchmarks not found: {sorted(missing)}")
    return [
        Figure(f"micro.{key}", label, "µs", medians[name] * 1e6, "lower")
        for name, (key, label) in wanted.items()
    ]


def measure_sim(quick: bool) -> list[Figure]:
    """The simulator under the pipelined client, carrier model off and on, every case."""
    from bench.capacity import (
        CARRIER_SUBSCRIBERS,
        SimulatorChild,
        carrier_destinations,
        drive,
        simulator_config,
    )

    figures: list[Figure] = []
    for carrier in (False, True):
        for sessions, window in carrier_cases(quick) if carrier else capacity_cases(quick):
            mapping = simulator_config(
                carrier=carrier,
                delivery_window=SIM_DELIVERY_WINDOW,
                receipt_delay=SIM_RECEIPT_DELAY,
            )
            with SimulatorChild(mapping) as sim:
                result = _run_async(
                    drive(
                        "127.0.0.1",
                        sim.port,
                        sessions=sessions,
                        window=window,
                        count=capacity_count(sessions, window, quick, carrier),
                        destinations=carrier_destinations() if carrier else None,
                        # With the model, the warm-up reaches every subscriber once, so the
                        # measured run rates steady state, not building the population (~19 µs
                        # per first message to a number).
                        warmup=CARRIER_SUBSCRIBERS if carrier else capacity_warmup(window, quick),
                    )
                )
            who = "simulator, carrier model on" if carrier else "simulator, fixed fate"
            prefix = f"sim.{'on' if carrier else 'off'}"
            figures += _rates(prefix, who, sessions, window, result)
    return figures


def measure_ceiling(quick: bool) -> list[Figure]:
    """The pipelined client against bench.peers.counting_smsc: the client's own ceiling."""
    from bench.capacity import drive
    from bench.peers.common import (
        free_port,
        python_module_cmd,
        spawn,
        terminate,
        wait_port_sync,
    )

    figures: list[Figure] = []
    for sessions, window in capacity_cases(quick):
        port = free_port()
        argv = python_module_cmd(
            "bench.peers.counting_smsc", "--port", str(port), "--max-seconds", "120"
        )
        proc = spawn(argv, cwd=ROOT, stdout=subprocess.DEVNULL)
        try:
            wait_port_sync("127.0.0.1", port, 15.0)
            result = _run_async(
                drive(
                    "127.0.0.1",
                    port,
                    sessions=sessions,
                    window=window,
                    count=capacity_count(sessions, window, quick),
                    warmup=capacity_warmup(window, quick),
                )
            )
        finally:
            terminate(proc)
        figures += _rates("ceiling", "client ceiling (counting SMSC)", sessions, window, result)
    return figures


def measure_node(quick: bool) -> list[Figure]:
    """The node-smpp server (npm ``smpp``) under the same client, cases and counts."""
    from bench.capacity import drive
    from bench.peers import node_smpp

    try:
        node_smpp.ensure_installed()
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        raise Skip(f"node-smpp not installable: {exc}") from exc

    async def one(sessions: int, window: int) -> dict[str, Any]:
        async with node_smpp.NodeSmppServer(max_seconds=120) as server:
            return await drive(
                server.host,
                server.port,
                sessions=sessions,
                window=window,
                count=capacity_count(sessions, window, quick),
                warmup=capacity_warmup(window, quick),
            )

    figures: list[Figure] = []
    who = f"node-smpp {node_smpp.installed_version()} server"
    for sessions, window in capacity_cases(quick):
        figures += _rates("node", who, sessions, window, _run_async(one(sessions, window)))
    return figures


def _gateway_figures(prefix: str, who: str, report: dict[str, Any], count: int) -> list[Figure]:
    done = report.get("responses_ok", count)
    if not report.get("complete", True) or done < count or not report.get("submit_rate"):
        report = {k: v for k, v in report.items() if k != "latency_ms"}
        raise RuntimeError(f"{who}: incomplete run: {json.dumps(report)[:500]}")
    where = f"{who}, window {GATEWAY_WINDOW}"
    figures = [
        Figure(f"{prefix}.submit", f"{where}: submitted/s", "msg/s", float(report["submit_rate"])),
        Figure(
            f"{prefix}.receipts", f"{where}: receipts/s", "msg/s", float(report["receipt_rate"])
        ),
    ]
    lat = report.get("latency_ms", {}).get("submit_to_resp")
    if lat:
        figures.append(
            Figure(f"{prefix}.p99", f"{where}: submit→resp p99", "ms", float(lat["p99"]), "lower")
        )
    if report.get("rss_mb"):
        figures.append(
            Figure(f"{prefix}.rss", f"{where}: peak RSS", "MiB", float(report["rss_mb"]), "lower")
        )
    return figures


def measure_gateway(quick: bool) -> list[Figure]:
    """`smsh load` (durable store, synchronous=FULL) against bench.fast_smsc, receipts on."""
    from bench import gateway_load
    from bench.peers.common import free_port

    count = gateway_count(quick)
    port = free_port()
    with gateway_load.fast_smsc(port, FAST_SMSC_RECEIPT_DELAY) as smsc:
        report = gateway_load.run_gateway(port, count, GATEWAY_WINDOW, 1, "FULL", smsc.pid)
    return _gateway_figures("gateway", "gateway (smsh load, store FULL)", report, count)


def measure_smpplib(quick: bool) -> list[Figure]:
    """python-smpplib as the ESME (window 100, no store), same SMSC, count and receipts."""
    from bench import gateway_load
    from bench.peers.common import free_port

    try:
        import smpplib  # noqa: F401
    except ImportError as exc:
        raise Skip("python-smpplib is not installed in .venv") from exc
    count = gateway_count(quick)
    port = free_port()
    with gateway_load.fast_smsc(port, FAST_SMSC_RECEIPT_DELAY) as smsc:
        report = gateway_load.run_peer(port, count, GATEWAY_WINDOW, smsc.pid)
    figures = _gateway_figures("smpplib", "python-smpplib ESME", report, count)
    return [f for f in figures if not f.key.endswith(".rss")]


#: Kannel's persistence per item (`bench.peers.kannel.persistence_groups`): ``kannel`` keeps
#: its message store file (the configuration the issue's ~2,300 msg/s describes, and the
#: reference of the gateway's target), ``kannelmem`` nothing (fastest, loses everything on a
#: crash), ``kanneldb`` the store file and its DLR mappings in SQLite (what our gateway keeps).
KANNEL_PERSISTENCE: Final[Mapping[str, str]] = {
    "kannel": "store",
    "kannelmem": "none",
    "kanneldb": "durable",
}
#: ``kanneldb`` runs this fraction of the gateway count: Kannel's SQLite DLR code commits
#: (and fsyncs) every statement, a few hundred messages a second here.
KANNEL_DB_FRACTION: Final[float] = 0.1


def _measure_kannel(name: str, quick: bool) -> list[Figure]:
    """Kannel (sendsms preloaded, then SMPP) against bench.fast_smsc, receipts to a dlr-url."""
    from bench import gateway_load
    from bench.peers import kannel
    from bench.peers.common import free_port

    try:
        kannel.ensure_installed()
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        raise Skip(f"Kannel not installable: {exc}") from exc
    persistence = cast(kannel.Persistence, KANNEL_PERSISTENCE[name])
    count = gateway_count(quick)
    if persistence == "durable":
        count = max(100, int(count * KANNEL_DB_FRACTION))
    port = free_port()
    with gateway_load.fast_smsc(port, FAST_SMSC_RECEIPT_DELAY):
        result = asyncio.run(
            kannel.run_kannel("127.0.0.1", port, count, GATEWAY_WINDOW, persistence=persistence)
        )
    if result.get("timed_out") or not result.get("receipt_rate"):
        raise RuntimeError(f"Kannel run incomplete: {json.dumps(result)[:500]}")
    kept = {"none": "no store", "store": "store file", "durable": "store file + SQLite DLRs"}
    who = (
        f"Kannel {result.get('kannel_version') or ''}".strip()
        + f" ({kept[persistence]}), window {GATEWAY_WINDOW}"
    )
    figures = [
        Figure(f"{name}.receipts", f"{who}: receipts to dlr-url/s", "msg/s", result["receipt_rate"])
    ]
    if result.get("sent_rate"):
        figures.append(
            Figure(
                f"{name}.submit", f"{who}: submitted/s (status.xml)", "msg/s", result["sent_rate"]
            )
        )
    return figures


def measure_kannel(quick: bool) -> list[Figure]:
    """Kannel with its store file (the gateway target's reference)."""
    return _measure_kannel("kannel", quick)


def measure_kannel_mem(quick: bool) -> list[Figure]:
    """Kannel without a store file, DLR mappings in memory."""
    return _measure_kannel("kannelmem", quick)


def measure_kannel_db(quick: bool) -> list[Figure]:
    """Kannel with its store file and DLR mappings in SQLite."""
    return _measure_kannel("kanneldb", quick)


def measure_e2e(quick: bool) -> list[Figure]:
    """`smsh load` (store FULL) against the simulator with the carrier model."""
    from bench import gateway_load
    from bench.capacity import SimulatorChild, simulator_config

    count = gateway_count(quick)
    mapping = simulator_config(
        carrier=True,
        delivery_window=SIM_DELIVERY_WINDOW,
        receipt_delay=SIM_RECEIPT_DELAY,
        subscribers=max(count, CARRIER_SUBSCRIBERS),  # smsh load sends to 090-1000-0000 + i
    )
    with SimulatorChild(mapping) as sim:
        assert sim.process is not None
        report = gateway_load.run_gateway(
            sim.port, count, GATEWAY_WINDOW, 1, "FULL", sim.process.pid
        )
    return _gateway_figures("e2e", "end to end: gateway → simulator (carrier model)", report, count)


def measure_gwmem(quick: bool) -> list[Figure]:
    """RSS of a process holding the gateway's store (gateway.store) with N messages queued."""
    count = 100_000 if quick else 1_000_000
    done = subprocess.run(
        [sys.executable, "bench/store_rss.py", "--count", str(count), "--json"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"store_rss failed: {done.stderr[-1000:]}")
    r = json.loads(done.stdout.strip().splitlines()[-1])
    where = f"gateway store, {count:,} queued"
    return [
        Figure("gwmem.rss", f"{where}: RSS", "MiB", r["rss_after_mib"], "lower"),
        Figure("gwmem.peak", f"{where}: peak RSS", "MiB", r["peak_rss_mib"], "lower"),
        Figure("gwmem.accept", f"{where}: bulk accept rate", "msg/s", r["accept_rate"]),
    ]


def measure_simmem(quick: bool) -> list[Figure]:
    """Simulator RSS per idle bound session and per 100,000 messages awaiting receipts."""
    from bench import sim_load
    from bench.capacity import SimulatorChild, drive, simulator_config

    sessions = 300 if quick else 1_000
    _before, _after, per_session = _run_async(sim_load.rss_per_session(sessions))
    pending = 20_000 if quick else 100_000
    mapping = simulator_config(
        carrier=False, delivery_window=SIM_DELIVERY_WINDOW, receipt_delay=3600
    )
    with SimulatorChild(mapping) as sim:
        time.sleep(0.2)
        before = sim.rss_mib()
        result = _run_async(
            drive("127.0.0.1", sim.port, sessions=1, window=100, count=pending, wait_receipts=False)
        )
        time.sleep(0.3)
        after = sim.rss_mib()
        accepted = sim.stats()["accepted"]
    if result["accepted"] < pending or accepted < pending:
        raise RuntimeError(f"only {result['accepted']} of {pending} accepted")
    return [
        Figure(
            "simmem.session",
            f"simulator: RSS per idle bound session ({sessions:,} bound)",
            "KiB",
            per_session,
            "lower",
        ),
        Figure(
            "simmem.pending",
            f"simulator: RSS per 100,000 messages awaiting receipts ({pending:,} sent)",
            "MiB",
            (after - before) * 100_000 / pending,
            "lower",
        ),
    ]


ITEMS: Final[tuple[Item, ...]] = (
    Item("micro", "codec and segmentation micro benchmarks", measure_micro, 120, 40),
    Item("sim", "simulator capacity, carrier model off and on", measure_sim, 180, 40),
    Item("ceiling", "the pipelined client's own ceiling", measure_ceiling, 90, 20),
    Item("node", "node-smpp server, same client and load", measure_node, 120, 25),
    Item("gateway", "gateway (smsh load) against bench.fast_smsc", measure_gateway, 120, 30),
    Item("smpplib", "python-smpplib ESME against bench.fast_smsc", measure_smpplib, 90, 25),
    Item("kannel", "Kannel (store file) against bench.fast_smsc", measure_kannel, 180, 60),
    Item("kannelmem", "Kannel (no store) against bench.fast_smsc", measure_kannel_mem, 180, 60),
    Item(
        "kanneldb",
        "Kannel (store file + SQLite DLRs) against bench.fast_smsc",
        measure_kannel_db,
        180,
        60,
    ),
    Item("e2e", "gateway -> simulator with the carrier model", measure_e2e, 240, 40),
    Item("gwmem", "gateway store RSS with N queued", measure_gwmem, 120, 30),
    Item("simmem", "simulator RSS per session and per pending receipt", measure_simmem, 120, 30),
)


def comparisons(quick: bool) -> list[Comparison]:
    """Every comparison of the suite (the cases depend on the mode)."""
    out: list[Comparison] = []
    for sessions, window in capacity_cases(quick):
        case = _case(sessions, window)
        out.append(
            Comparison(
                f"simulator / node-smpp, {sessions}×{window}: submit_sm/s",
                f"sim.off.{case}.submit",
                f"node.{case}.submit",
                goal=3.0,
            )
        )
    out.append(
        Comparison(
            "simulator with carrier model / node-smpp, 1×100: submit_sm/s",
            "sim.on.s1w100.submit",
            "node.s1w100.submit",
        )
    )
    for sessions, window in carrier_cases(quick):
        case = _case(sessions, window)
        out.append(
            Comparison(
                f"carrier model cost, {sessions}×{window}: submit_sm/s (issue #4)",
                f"sim.on.{case}.submit",
                f"sim.off.{case}.submit",
                goal=0.30 if window == 100 else None,
                kind="cost",
            )
        )
    out += [
        Comparison(
            "simulator / client ceiling, 1×100: submit_sm/s",
            "sim.off.s1w100.submit",
            "ceiling.s1w100.submit",
        ),
        Comparison(
            "gateway / Kannel (store file): receipts/s (issue #5: target 3×, goal 10×)",
            "gateway.receipts",
            "kannel.receipts",
            goal=3.0,
        ),
        Comparison("gateway / Kannel (store file): submitted/s", "gateway.submit", "kannel.submit"),
        Comparison(
            "gateway / Kannel (no store): receipts/s", "gateway.receipts", "kannelmem.receipts"
        ),
        Comparison(
            "gateway / Kannel (store file + SQLite DLRs): receipts/s",
            "gateway.receipts",
            "kanneldb.receipts",
        ),
        Comparison("gateway / python-smpplib: submitted/s", "gateway.submit", "smpplib.submit"),
        Comparison("gateway / python-smpplib: receipts/s", "gateway.receipts", "smpplib.receipts"),
    ]
    return out


def settings(quick: bool) -> list[str]:
    """The parameters a reader needs, one line each."""
    cases = ", ".join(
        f"{s}×{w}: {capacity_count(s, w, quick):,} ({capacity_count(s, w, quick, True):,} "
        "with the carrier model)"
        for s, w in capacity_cases(quick)
    )
    if quick:
        cases += "; the carrier model only 1×100"
    return [
        "Receipts on everywhere (registered_delivery=1; every deliver_sm answered).",
        "SMSC capacity: one client for every SMSC (bench/peers/pipelined_esme.py: pre-encoded "
        f"submit_sm, `sessions × window` in flight); submit_sm per case: {cases}.",
        f"Simulator: outbound deliver_sm window `delivery.window` = {SIM_DELIVERY_WINDOW} "
        f"(default 10); fixed fate DELIVRD after {SIM_RECEIPT_DELAY:g} s. Carrier model: its "
        "defaults, 10,000 subscribers (every destination one), max_tps off, alphanumeric "
        f"senders allowed, no receipt loss, simulated time {CARRIER_SPEED:,.0f}× real time (so "
        "every fate, expiry included, ends with a receipt within the run; its receipts/s "
        "include those fates' delays).",
        f"Gateway side: {gateway_count(quick):,} messages, window {GATEWAY_WINDOW}, one bind, "
        f"against bench.fast_smsc (receipts after {FAST_SMSC_RECEIPT_DELAY:g} s); Kannel "
        "preloaded through sendsms, timed from /add-smsc; rates in messages/s. Kannel three "
        "ways: `kannel` with its store file (store-type = file: accepted messages survive a "
        "crash; the reference of the gateway's target), `kannelmem` without (DLR mappings in "
        "memory), `kanneldb` with the store file and DLR mappings in SQLite (dlr-storage = "
        f"sqlite3; {KANNEL_DB_FRACTION:.0%} of the count: it commits every statement). The "
        "gateway keeps both, with synchronous=FULL.",
        "Ratios: of the medians; the range pairs the ends of the two min – max ranges.",
    ]


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------


def _items(only: Sequence[str] | None) -> list[Item]:
    if not only:
        return list(ITEMS)
    known = {item.name: item for item in ITEMS}
    unknown = [name for name in only if name not in known]
    if unknown:
        raise ValueError(f"unknown item(s): {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[name] for name in only]


def run_child(name: str, quick: bool) -> int:
    """Measure one item once in this process; print one JSON line (``--child``)."""
    item = _items([name])[0]
    result: dict[str, Any]
    try:
        figures = item.measure(quick)
    except Skip as exc:
        result = {"skipped": str(exc)}
    except Exception as exc:
        result = {"failed": f"{type(exc).__name__}: {exc}"[:600]}
    else:
        result = {"figures": [asdict(f) for f in figures]}
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


def run_item(item: Item, quick: bool) -> Outcome:
    """One run of `item` in a fresh child process, killed after its budget."""
    budget = item.quick_budget_s if quick else item.budget_s
    argv = [sys.executable, "-m", "bench.suite", "--child", item.name]
    if quick:
        argv.append("--quick")
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=budget)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the group this call created
        proc.communicate()
        return Outcome(failed=f"over its {budget:g} s budget", seconds=budget)
    seconds = time.perf_counter() - started
    line = next((x for x in reversed(out.splitlines()) if x.startswith("{")), None)
    if line is None:
        return Outcome(failed=f"exit {proc.returncode}: {err.strip()[-400:]}", seconds=seconds)
    data = json.loads(line)
    if "skipped" in data:
        return Outcome(skipped=data["skipped"], seconds=seconds)
    if "failed" in data:
        return Outcome(failed=data["failed"], seconds=seconds)
    return Outcome(figures=[Figure(**f) for f in data["figures"]], seconds=seconds)


def run_suite(
    *,
    quick: bool,
    runs: int,
    only: Sequence[str] | None,
    now: datetime,
    progress: Callable[[str], None],
    runner: Callable[[Item, bool], Outcome] = run_item,
) -> Report:
    """Run the items in rounds and build the report.

    Args:
        quick: the quick mode.
        runs: runs per item (an item that is skipped once is not run again).
        only: item names, or None for all.
        now: the date written in the report.
        progress: called with one line per finished run.
        runner: runs one item once (a parameter for the tests).
    """
    items = _items(only)
    started = time.perf_counter()
    outcomes: dict[str, list[Outcome]] = {item.name: [] for item in items}
    skipped: dict[str, str] = {}
    for round_no in range(1, runs + 1):
        for item in items:
            if item.name in skipped:
                continue
            outcome = runner(item, quick)
            outcomes[item.name].append(outcome)
            if outcome.skipped is not None:
                skipped[item.name] = outcome.skipped
            state = (
                f"skipped: {outcome.skipped}"
                if outcome.skipped is not None
                else f"failed: {outcome.failed}"
                if outcome.failed is not None
                else f"{len(outcome.figures)} figures"
            )
            progress(f"[{round_no}/{runs}] {item.name}: {state} ({outcome.seconds:.1f} s)")
    summaries: list[Summary] = []
    problems: dict[str, str] = {}
    for item in items:
        done = outcomes[item.name]
        summaries += summarise([o.figures for o in done if o.skipped is None and not o.failed])
        if item.name in skipped:
            problems[item.name] = f"skipped: {skipped[item.name]}"
            continue
        failures = [o.failed for o in done if o.failed is not None]
        if failures:
            problems[item.name] = f"failed {len(failures)} of {len(done)} runs: {failures[-1]}"
    verdicts = [
        evaluate(c, summaries, problems)
        for c in comparisons(quick)
        if c.ours.split(".", 1)[0] in outcomes and c.theirs.split(".", 1)[0] in outcomes
    ]
    return Report(
        date=now.strftime("%Y-%m-%d %H:%M"),
        mode="quick" if quick else "full",
        runs=runs,
        machine=machine_description(),
        settings=settings(quick),
        summaries=summaries,
        verdicts=verdicts,
        problems=problems,
        wall_s=time.perf_counter() - started,
    )


def record(table: str, results_path: Path = RESULTS_PATH, readme_path: Path = README_PATH) -> None:
    """Prepend the table to RESULTS.md and put it between the README's markers."""
    existing = results_path.read_text(encoding="utf-8") if results_path.exists() else ""
    results_path.write_text(prepend_history(existing, table), encoding="utf-8")
    readme = readme_path.read_text(encoding="utf-8")
    readme_path.write_text(replace_between(readme, README_START, README_END, table), "utf-8")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of `smsh bench` (shared with ``python -m bench.suite``)."""
    parser.add_argument("--quick", action="store_true", help="fewer cases, smaller counts (<2 min)")
    parser.add_argument("--json", action="store_true", help="print one JSON object, not a table")
    parser.add_argument("--runs", type=int, default=3, metavar="N", help="runs per item (3)")
    parser.add_argument(
        "--only", default=None, metavar="ITEMS", help="comma-separated items (see --list)"
    )
    parser.add_argument("--list", action="store_true", help="list the items and exit")
    parser.add_argument(
        "--record",
        action="store_true",
        help="add the table to bench/RESULTS.md (newest first) and show it in README.md",
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    """Run the suite as the arguments say; returns the exit code (2: usage error)."""
    if args.child:
        return run_child(args.child, args.quick)
    if args.list:
        for item in ITEMS:
            print(
                f"{item.name:<9} {item.title} "
                f"(budget {item.budget_s:g} s, quick {item.quick_budget_s:g} s)"
            )
        return 0
    if args.runs < 1:
        print("smsh bench: --runs must be >= 1", file=sys.stderr)
        return 2
    only = [name for name in args.only.split(",") if name] if args.only else None
    try:
        _items(only)
    except ValueError as exc:
        print(f"smsh bench: {exc}", file=sys.stderr)
        return 2

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    report = run_suite(
        quick=args.quick, runs=args.runs, only=only, now=datetime.now(UTC), progress=progress
    )
    table = render_table(report)
    if args.json:
        print(json.dumps(report_json(report), ensure_ascii=False))
    else:
        print(table, end="")
    if args.record:
        record(table)
        print(f"recorded in {RESULTS_PATH.relative_to(ROOT)} and README.md", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python -m bench.suite``."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.suite", description=__doc__.split("\n")[0]
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
