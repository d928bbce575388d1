"""The run ledger: every message's lifecycle, per part, in one SQLite file per run.

    run = create_run_directory(scenario)                 # runs/<name>-<timestamp>/ + scenario copy
    with open_ledger(run) as ledger:                     # runs/.../ledger.sqlite
        ledger.record_planned(msg)                        # from scenarios.traffic
        ledger.observe(event)                             # any sms.bus event, or record_* calls
        live = ledger.results(light=True)                 # for progress, once a second
        results = ledger.results(end_at=clock.now())
        ledger.close(results)                             # outcomes table + results in meta
    diffs = compare_ledgers(run_a, run_b)                 # basis of `smsh replay RUN`

Why SQLite rather than JSONL. A run of 100k messages writes about six facts per message. SQLite
takes them in batched transactions (`executemany`, one COMMIT per `batch_size` facts, WAL,
``synchronous=NORMAL``): the cost per fact is a tuple append, and a batch of 5,000 commits in a
few milliseconds. Unlike JSONL it is one self-describing file that survives a crash mid-run
(committed batches are complete, never a torn last line), it is indexed by message key so
`compare_ledgers` and ad-hoc questions (``sqlite3 ledger.sqlite "select ... where key=..."``) need
no full scan in Python, and it stores the scenario text, seed and build version next to the
facts, so a ledger alone is enough to replay the run. It is the project's durability rule too
(ARCHITECTURE.md rule 7: durable means SQLite; batch writes).

Tables (schema version 1):
    meta(name, value)       run_id, scenario, seed, build_version, scenario_text, results (JSON)
    messages(key, ...)      what the traffic planned: stream, time, destination, source, text
    facts(seq, kind, at, key, part, ...)   the lifecycle, append-only, in arrival order
    outcomes(key, ...)      per-message outcome, written once by `close` (part_stats and
                            events comma-separated, "-" for a part without a final receipt)

Fact kinds and the columns they use (others NULL):
    accepted     key, number=parts, name=encoding, ref=gateway message id
    refused      key, stat=reason (owner_check_blocked, suppressed, too_long, ...), text=detail
    submit       key, part, number=attempt, name=bind, code=sequence_number
    resp         key, part, code=command_status, ref=smsc message id, value=latency ms,
                 name=bind, flag=1 for a generic_nack
    timeout      key, part, name=bind
    receipt      key ("" when unmatched), part, stat, err, ref=smsc message id, name=bind
    final        key, stat=terminal state, text=reason, number=attempts
    mo_sent      key=reply key, ref=in-reply-to key, source, destination, text, number=parts
    mo_received  source, destination, text, number=parts, flag=1 when reassembled
    event        name (misdelivery, spoof_blocked, bind_lost, ...), key, part, text=detail

Invariants:
    * Facts are keyed by the message key of `scenarios.traffic` (never by SMSC id or arrival
      order). The gateway's own ids are mapped to keys as `MessageAccepted` events arrive.
    * One code path computes results: `ResultsBuilder` consumes facts; the live ledger feeds it
      as facts are recorded and `LedgerReader` replays the stored facts through a new one.
    * A message's outcome (`MessageOutcome`) holds only what must not depend on timing: final
      state, per-part final receipt stat, audit events, what was planned. Attempts and times are
      kept but not compared.
"""

from __future__ import annotations

import itertools
import json
import math
import sqlite3
import subprocess
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from hashlib import blake2b
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, NamedTuple, TypeAlias, get_args

import yaml

from scenarios.errors import LedgerError
from scenarios.expectations import LatencyStats, MessageOutcome, RunResults, Series
from scenarios.schema import Scenario
from scenarios.traffic import TrafficMessage
from sms.bus.events import (
    Alert,
    BindStateChanged,
    Event,
    FaultInjected,
    MessageAccepted,
    MessageFinal,
    MoReceived,
    MoSent,
    PartSubmitted,
    ReceiptReceived,
    SubmitResponded,
    SubmitTimedOut,
)
from sms.numbers import try_parse

__all__ = [
    "EVENT_COUNTERS",
    "FACT_KINDS",
    "LEDGER_SCHEMA_VERSION",
    "Difference",
    "Fact",
    "FactKind",
    "Ledger",
    "LedgerReader",
    "PlannedMessage",
    "ResultsBuilder",
    "RunDirectory",
    "build_version",
    "compare_ledgers",
    "create_run_directory",
    "open_ledger",
    "replay_outcomes",
    "traffic_key",
]

#: Version of the ledger's table layout.
LEDGER_SCHEMA_VERSION: Final[int] = 1

#: Receipt stats that are not final (an intermediate notification).
_INTERMEDIATE: Final[frozenset[str]] = frozenset({"ENROUTE", "ACCEPTD"})
_THROTTLED: Final[int] = 0x58

#: Audit / session event name -> the catalogue counter it increments.
EVENT_COUNTERS: Final[Mapping[str, str]] = {
    "misdelivery": "misdeliveries",
    "spoof_delivered_into_thread": "spoof_delivered_into_thread",
    "spoof_blocked": "spoof_blocked",
    "sender_relabelled": "sender_relabelled",
    "sender_replaced": "sender_replaced",
    "filtered": "filtered",
    "delivered_in_quiet_hours": "delivered_in_quiet_hours",
    "duplicate_delivery": "duplicate_deliveries",
    "opted_out": "opted_out",
    "sent_after_opt_out": "sent_after_opt_out",
    "receipt_lost": "receipts_lost",
    "quiet_hours_deferred": "quiet_hours_deferred",
    "bind_lost": "binds_lost",
    "bind_reconnected": "binds_reconnected",
    "malformed_pdu": "malformed_pdus",
    "fault_injected": "faults_injected",
}
#: Refusal reasons that are catalogue counters of their own.
_REFUSAL_COUNTERS: Final[frozenset[str]] = frozenset({"owner_check_blocked", "suppressed"})
#: Counters charted as rates per second.
_RATE_SERIES: Final[tuple[str, ...]] = (
    "messages_planned",
    "submit_attempts",
    "submit_ok",
    "throttled",
    "receipts_received",
    "messages_delivered",
    "mo_received",
)
#: Latency series charted per bucket.
_LATENCY_SERIES: Final[tuple[str, ...]] = ("submit_to_resp_ms", "submit_to_receipt_ms")
_NICE_BUCKETS: Final[tuple[float, ...]] = (
    0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800,
    21600, 43200, 86400,
)  # fmt: skip


FactKind: TypeAlias = Literal[
    "accepted",
    "refused",
    "submit",
    "resp",
    "timeout",
    "receipt",
    "final",
    "mo_sent",
    "mo_received",
    "event",
]
"""What a ledger fact records (see the module docstring for the columns of each). Plain
strings, not an enum: SQLite binds exact `str` and `int` values on its fast path."""

#: Every fact kind.
FACT_KINDS: Final[tuple[str, ...]] = get_args(FactKind)


class Fact(NamedTuple):
    """One row of the `facts` table (a named tuple: cheap to build, written as it is)."""

    kind: FactKind
    """What happened."""
    at: float
    """When (seconds since 1970, scenario clock)."""
    key: str = ""
    """Message key ("" for none)."""
    part: int = 0
    """Part number (0 for the whole message)."""
    name: str | None = None
    """Event name, bind or encoding (by kind)."""
    code: int | None = None
    """command_status or sequence_number (by kind)."""
    stat: str | None = None
    """Receipt stat, terminal state or refusal reason (by kind)."""
    err: str | None = None
    """Receipt err."""
    ref: str | None = None
    """SMSC or gateway message id, or the in-reply-to key (by kind)."""
    value: float | None = None
    """Latency in milliseconds (resp)."""
    text: str | None = None
    """MO text, reason or detail (by kind)."""
    source: str | None = None
    """MO source."""
    destination: str | None = None
    """MO destination."""
    number: int | None = None
    """Parts, attempt number or attempts (by kind)."""
    flag: int = 0
    """1 for a generic_nack (resp) or a reassembled MO (mo_received), else 0."""


@dataclass(frozen=True, slots=True)
class PlannedMessage:
    """A row of the `messages` table: what the traffic planned for one key."""

    key: str
    """Message key."""
    stream: str
    """Traffic stream."""
    at: float
    """Planned send time (scenario clock)."""
    destination: str
    """Recipient."""
    source: str | None
    """Sender, if the stream set one."""
    text: str
    """Text."""
    text_kind: str
    """gsm7, ucs2, long_japanese, template:<name> or campaign."""
    owner: str | None
    """Intended owner, when known."""
    obtained: str | None
    """ISO date the number was obtained, when known."""

    @classmethod
    def of(cls, message: TrafficMessage) -> PlannedMessage:
        """The row for a generated message."""
        return cls(
            message.key,
            message.stream,
            message.send_at,
            message.destination,
            message.source,
            message.text,
            message.text_kind,
            message.owner,
            None if message.obtained is None else message.obtained.isoformat(),
        )


_DDL: Final[str] = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    key TEXT PRIMARY KEY, stream TEXT NOT NULL, at REAL NOT NULL, destination TEXT NOT NULL,
    source TEXT, text TEXT NOT NULL, text_kind TEXT NOT NULL, owner TEXT, obtained TEXT
);
CREATE TABLE IF NOT EXISTS facts (
    seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, at REAL NOT NULL, key TEXT NOT NULL,
    part INTEGER NOT NULL, name TEXT, code INTEGER, stat TEXT, err TEXT, ref TEXT, value REAL,
    text TEXT, source TEXT, destination TEXT, number INTEGER, flag INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outcomes (
    key TEXT PRIMARY KEY, stream TEXT NOT NULL, destination TEXT NOT NULL,
    text_digest TEXT NOT NULL, parts INTEGER NOT NULL, accepted INTEGER NOT NULL, refused TEXT,
    state TEXT, reason TEXT, part_stats TEXT NOT NULL, events TEXT NOT NULL,
    attempts INTEGER NOT NULL
);
"""
_FACT_INSERT: Final[str] = (
    "INSERT INTO facts (kind, at, key, part, name, code, stat, err, ref, value, text, source,"
    " destination, number, flag) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_MESSAGE_INSERT: Final[str] = (
    "INSERT OR REPLACE INTO messages (key, stream, at, destination, source, text, text_kind,"
    " owner, obtained) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _join(values: Iterable[str | None]) -> str:
    # Stats and event names never contain commas or dashes; "-" stands for None.
    return ",".join(v or "-" for v in values)


def _split(text: str) -> list[str]:
    return text.split(",") if text else []


def _digest(text: str) -> str:
    return blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


#: Prefix of the carrier model's keys for messages that carried a harness key (TLV 0x1500).
_MODEL_KEY_PREFIX: Final[str] = "k:"


def traffic_key(raw: str) -> str:
    """The traffic key in a message key an event carries.

    The carrier model (`simulator.network`) keys what it tracks as ``k:<key>#<occurrence>``,
    and a reply to a message as ``k:<key>#<occurrence>~reply``; its audit alerts carry that
    key. Facts are keyed by the traffic key alone, so every audit fact about a message lands
    on that message whichever occurrence or reply it concerns. Other keys are returned as
    they are.

    Args:
        raw: A message key from an event.

    Returns:
        The traffic key.
    """
    if raw.startswith(_MODEL_KEY_PREFIX):
        return raw[len(_MODEL_KEY_PREFIX) :].partition("#")[0] or raw
    return raw


def _number(raw: str) -> str:
    parsed = try_parse(raw, allow_060=True, allow_m2m=True)
    if isinstance(parsed, Exception):
        return raw
    return parsed.e164


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Msg:
    stream: str = ""
    destination: str = ""
    digest: str = ""
    planned_at: float | None = None
    accepted: bool = False
    accepted_at: float | None = None
    parts: int = 0
    refused: str | None = None
    state: str | None = None
    reason: str | None = None
    attempts: int = 0
    first_submit: dict[int, float] = field(default_factory=dict)
    last_submit: dict[int, float] = field(default_factory=dict)
    stats: dict[int, str] = field(default_factory=dict)
    events: set[str] = field(default_factory=set)
    queued_measured: bool = False


class ResultsBuilder:
    """Turns facts into `RunResults` incrementally (O(1) per fact, no I/O)."""

    def __init__(
        self, *, scenario: str = "", run_id: str = "", seed: int = 0, start_at: float | None = None
    ) -> None:
        """Start empty.

        Args:
            scenario: Scenario name for the results.
            run_id: Run id for the results.
            seed: Seed for the results.
            start_at: Scenario clock at the start; None: the first fact's time.
        """
        self.scenario = scenario
        self.run_id = run_id
        self.seed = seed
        self.start_at = start_at
        self._last_at = -math.inf
        self._msgs: dict[str, _Msg] = {}
        self._counters: dict[str, int] = {}
        self._spans: dict[str, list[float]] = {}
        self._samples: dict[str, array[float]] = {}
        self._sample_times: dict[str, array[float]] = {}
        self._times: dict[str, array[float]] = {name: array("d") for name in _RATE_SERIES}
        self._mix: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()
        self._mo_sent: Counter[tuple[str, str]] = Counter()
        self._mo_received: Counter[tuple[str, str]] = Counter()
        self._seen_events: set[tuple[str, str, int]] = set()

    # -- primitives -----------------------------------------------------------------------------

    def _bump(self, name: str, at: float, n: int = 1) -> None:
        counters = self._counters
        counters[name] = counters.get(name, 0) + n
        span = self._spans.get(name)
        if span is None:
            self._spans[name] = [at, at]
        elif at > span[1]:
            span[1] = at
        elif at < span[0]:
            span[0] = at
        times = self._times.get(name)
        if times is not None:
            times.append(at)

    def _sample(self, name: str, at: float, ms: float) -> None:
        if not math.isfinite(ms) or ms < 0:
            return
        samples = self._samples.get(name)
        if samples is None:
            samples = self._samples[name] = array("d")
            self._sample_times[name] = array("d")
        samples.append(ms)
        self._sample_times[name].append(at)

    def _msg(self, key: str) -> _Msg:
        msg = self._msgs.get(key)
        if msg is None:
            msg = self._msgs[key] = _Msg()
        return msg

    # -- input ----------------------------------------------------------------------------------

    def planned(self, planned: PlannedMessage) -> None:
        """A message the traffic produced."""
        msg = self._msg(planned.key)
        msg.stream = planned.stream
        msg.destination = planned.destination
        msg.digest = _digest(planned.text)
        msg.planned_at = planned.at
        self._touch(planned.at)
        self._bump("messages_planned", planned.at)

    def _touch(self, at: float) -> None:
        if self.start_at is None:
            self.start_at = at
        if at > self._last_at:
            self._last_at = at

    def add(self, fact: Fact) -> None:
        """Account for one fact."""
        self._touch(fact.at)
        handler = _HANDLERS[fact.kind]
        handler(self, fact)

    def _accepted(self, f: Fact) -> None:
        msg = self._msg(f.key)
        if msg.accepted:
            return
        msg.accepted = True
        msg.accepted_at = f.at
        msg.parts = f.number or 1
        self._bump("messages_accepted", f.at)

    def _refused(self, f: Fact) -> None:
        msg = self._msg(f.key)
        if msg.refused is not None:
            return
        msg.refused = f.stat or "refused"
        self._bump("messages_refused", f.at)
        if msg.refused in _REFUSAL_COUNTERS:
            self._bump(msg.refused, f.at)

    def _submit(self, f: Fact) -> None:
        msg = self._msg(f.key)
        msg.attempts += 1
        self._bump("submit_attempts", f.at)
        if f.part not in msg.first_submit:
            msg.first_submit[f.part] = f.at
            self._bump("parts_submitted", f.at)
        msg.last_submit[f.part] = f.at
        if not msg.queued_measured and msg.planned_at is not None:
            msg.queued_measured = True
            self._sample("queue_wait_ms", f.at, (f.at - msg.planned_at) * 1000.0)

    def _resp(self, f: Fact) -> None:
        status = f.code or 0
        if status == 0:
            self._bump("submit_ok", f.at)
        else:
            self._bump("submit_errors", f.at)
            self._errors[f"0x{status:08X}"] += 1
            if status == _THROTTLED:
                self._bump("throttled", f.at)
        if f.flag:
            self._bump("generic_nacks", f.at)
        latency = f.value
        if latency is None:
            sent = self._msgs[f.key].last_submit.get(f.part) if f.key in self._msgs else None
            latency = None if sent is None else (f.at - sent) * 1000.0
        if latency is not None:
            self._sample("submit_to_resp_ms", f.at, latency)

    def _timeout(self, f: Fact) -> None:
        self._bump("submit_timeouts", f.at)

    def _receipt(self, f: Fact) -> None:
        self._bump("receipts_received", f.at)
        stat = (f.stat or "").upper()
        if not f.key:
            self._bump("receipts_unmatched", f.at)
            if stat and stat not in _INTERMEDIATE:
                self._mix[stat] += 1
            return
        self._bump("receipts_matched", f.at)
        if stat in _INTERMEDIATE:
            self._bump("receipts_intermediate", f.at)
            return
        msg = self._msg(f.key)
        if f.part in msg.stats:
            self._bump("receipts_duplicate", f.at)
            return
        msg.stats[f.part] = stat
        self._mix[stat] += 1
        sent = msg.first_submit.get(f.part)
        if sent is not None:
            self._sample("submit_to_receipt_ms", f.at, (f.at - sent) * 1000.0)

    def _final(self, f: Fact) -> None:
        msg = self._msg(f.key)
        if msg.state is not None:
            return
        state = (f.stat or "unknown").lower()
        msg.state = state
        msg.reason = f.text
        self._bump("messages_terminal", f.at)
        self._bump(f"messages_{state}", f.at)
        if state != "delivered":
            self._bump("messages_undelivered", f.at)
        if msg.accepted_at is not None:
            self._sample("accept_to_final_ms", f.at, (f.at - msg.accepted_at) * 1000.0)

    def _mo_sent_fact(self, f: Fact) -> None:
        self._bump("mo_sent", f.at)
        self._mo_sent[(_number(f.source or ""), f.text or "")] += 1

    def _mo_received_fact(self, f: Fact) -> None:
        self._bump("mo_received", f.at)
        if f.flag or (f.number or 1) > 1:
            self._bump("mo_reassembled", f.at)
        self._mo_received[(_number(f.source or ""), f.text or "")] += 1

    def _event(self, f: Fact) -> None:
        name = f.name or ""
        if f.key:
            marker = (name, f.key, f.part)
            if marker in self._seen_events:
                return
            self._seen_events.add(marker)
            self._msg(f.key).events.add(name)
        counter = EVENT_COUNTERS.get(name)
        if counter is not None:
            self._bump(counter, f.at)

    # -- output ---------------------------------------------------------------------------------

    def results(
        self, *, light: bool = False, end_at: float | None = None, wall_s: float | None = None
    ) -> RunResults:
        """The results so far.

        Args:
            light: Skip per-message outcomes and series (cheap enough to call every second).
            end_at: Scenario clock at the end; None: the latest fact.
            wall_s: Real seconds the run took, if known.

        Returns:
            The results.
        """
        start = self.start_at if self.start_at is not None else 0.0
        end = end_at if end_at is not None else max(self._last_at, start)
        counters = dict(self._counters)
        stuck = sum(1 for m in self._msgs.values() if m.accepted and m.state is None)
        counters["messages_not_terminal"] = stuck
        mismatch = (self._mo_sent - self._mo_received) + (self._mo_received - self._mo_sent)
        counters["mo_mismatched"] = sum(mismatch.values())
        latencies = {
            name: LatencyStats.from_samples(samples) for name, samples in self._samples.items()
        }
        spans = {name: (span[0], span[1]) for name, span in self._spans.items()}
        return RunResults(
            scenario=self.scenario,
            run_id=self.run_id,
            seed=self.seed,
            start_at=start,
            end_at=end,
            counters=counters,
            spans=spans,
            latencies=latencies,
            receipt_mix=dict(self._mix),
            errors=dict(self._errors),
            outcomes={} if light else self.outcomes(),
            series=None if light else self._series(start, end),
            wall_s=wall_s,
        )

    def outcomes(self) -> dict[str, MessageOutcome]:
        """Every message's outcome by key."""
        out: dict[str, MessageOutcome] = {}
        for key, m in self._msgs.items():
            parts = (
                max([m.parts, *m.stats, *m.first_submit])
                if (m.stats or m.first_submit)
                else m.parts
            )
            out[key] = MessageOutcome(
                key=key,
                stream=m.stream,
                destination=m.destination,
                text_digest=m.digest,
                parts=m.parts,
                accepted=m.accepted,
                refused=m.refused,
                state=m.state,
                reason=m.reason,
                part_stats=tuple(m.stats.get(p) for p in range(1, parts + 1)),
                events=tuple(sorted(m.events)),
                attempts=m.attempts,
            )
        return out

    def _series(self, start: float, end: float) -> Series:
        span = max(end - start, 1e-9)
        bucket = next((b for b in _NICE_BUCKETS if span / b <= 120), _NICE_BUCKETS[-1])
        n = max(1, math.ceil(span / bucket))
        values: dict[str, tuple[float | None, ...]] = {}
        for name in _RATE_SERIES:
            counts = [0] * n
            for at in self._times[name]:
                counts[min(n - 1, max(0, int((at - start) / bucket)))] += 1
            values[f"{name}_per_s"] = tuple(c / bucket for c in counts)
        for name in _LATENCY_SERIES:
            buckets: list[list[float]] = [[] for _ in range(n)]
            samples = self._samples.get(name, array("d"))
            times = self._sample_times.get(name, array("d"))
            for at, ms in zip(times, samples, strict=True):
                buckets[min(n - 1, max(0, int((at - start) / bucket)))].append(ms)
            for label, q in (("p50", 0.5), ("p99", 0.99)):
                values[f"{name}_{label}"] = tuple(
                    sorted(b)[max(0, math.ceil(q * len(b)) - 1)] if b else None for b in buckets
                )
        return Series(start=start, bucket_s=float(bucket), values=values)


_HANDLERS: Final[dict[str, Callable[[ResultsBuilder, Fact], None]]] = {
    "accepted": ResultsBuilder._accepted,
    "refused": ResultsBuilder._refused,
    "submit": ResultsBuilder._submit,
    "resp": ResultsBuilder._resp,
    "timeout": ResultsBuilder._timeout,
    "receipt": ResultsBuilder._receipt,
    "final": ResultsBuilder._final,
    "mo_sent": ResultsBuilder._mo_sent_fact,
    "mo_received": ResultsBuilder._mo_received_fact,
    "event": ResultsBuilder._event,
}


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------


def _connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
    try:
        if readonly:
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        else:
            conn = sqlite3.connect(path, isolation_level=None)
    except sqlite3.Error as exc:
        raise LedgerError(f"{path}: cannot open the ledger: {exc}") from None
    return conn


class Ledger:
    """Writes one run's facts to SQLite in batches and keeps the running results."""

    def __init__(
        self,
        path: Path | str,
        *,
        scenario: str = "",
        run_id: str = "",
        seed: int = 0,
        start_at: float | None = None,
        meta: Mapping[str, Any] | None = None,
        batch_size: int = 5000,
    ) -> None:
        """Create a new ledger file.

        Args:
            path: The file to create (it must not exist).
            scenario: Scenario name.
            run_id: Run id.
            seed: Scenario seed.
            start_at: Scenario clock at the start; None: the first fact's time.
            meta: More metadata to store (JSON-serialisable values).
            batch_size: Facts buffered before a batch is committed.

        Raises:
            LedgerError: The file exists or cannot be created.
        """
        self.path = Path(path)
        if self.path.exists():
            raise LedgerError(f"{self.path}: a ledger exists there already")
        self._conn = _connect(self.path, readonly=False)
        self._batch = max(1, batch_size)
        self._facts: list[Fact] = []
        self._messages: list[tuple[Any, ...]] = []
        self._ids: dict[str, str] = {}
        self._bound: dict[str, bool] = {}
        self._closed = False
        self.builder = ResultsBuilder(
            scenario=scenario, run_id=run_id, seed=seed, start_at=start_at
        )
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_DDL)
            base = {
                "ledger_schema_version": LEDGER_SCHEMA_VERSION,
                "scenario": scenario,
                "run_id": run_id,
                "seed": seed,
                "start_at": start_at,
            }
            self.set_meta({**base, **(meta or {})})
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: cannot create the ledger: {exc}") from None

    # -- metadata -------------------------------------------------------------------------------

    def set_meta(self, values: Mapping[str, Any]) -> None:
        """Store metadata (JSON-encoded values), replacing earlier values of the same names."""
        rows = [(name, json.dumps(value, ensure_ascii=False)) for name, value in values.items()]
        self._conn.execute("BEGIN")
        self._conn.executemany("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", rows)
        self._conn.execute("COMMIT")

    # -- recording ------------------------------------------------------------------------------

    def record(self, fact: Fact) -> None:
        """Record one fact."""
        if self._closed:
            raise LedgerError(f"{self.path}: the ledger is closed")
        self.builder.add(fact)
        self._facts.append(fact)
        if len(self._facts) >= self._batch:
            self.flush()

    def record_planned(self, message: TrafficMessage) -> None:
        """Record a message the traffic produced (before it is handed to the gateway)."""
        planned = PlannedMessage.of(message)
        self.builder.planned(planned)
        self._messages.append(
            (
                planned.key,
                planned.stream,
                planned.at,
                planned.destination,
                planned.source,
                planned.text,
                planned.text_kind,
                planned.owner,
                planned.obtained,
            )
        )
        if len(self._messages) >= self._batch:
            self.flush()

    def record_accepted(
        self,
        key: str,
        at: float,
        *,
        parts: int,
        encoding: str | None = None,
        message_id: str | None = None,
    ) -> None:
        """The gateway accepted a message (planned into `parts` parts)."""
        if message_id is not None:
            self._ids[message_id] = key
        self.record(Fact("accepted", at, key, number=parts, name=encoding, ref=message_id))

    def record_refused(self, key: str, at: float, reason: str, detail: str | None = None) -> None:
        """The gateway refused a message (`reason`: owner_check_blocked, suppressed, ...)."""
        self.record(Fact("refused", at, key, stat=reason, text=detail))

    def record_submit(
        self,
        key: str,
        part: int,
        at: float,
        *,
        attempt: int = 1,
        bind: str | None = None,
        sequence_number: int | None = None,
    ) -> None:
        """A submit_sm was written for a part."""
        self.record(Fact("submit", at, key, part, name=bind, code=sequence_number, number=attempt))

    def record_resp(
        self,
        key: str,
        part: int,
        at: float,
        *,
        status: int,
        smsc_id: str | None = None,
        latency_ms: float | None = None,
        bind: str | None = None,
        generic_nack: bool = False,
    ) -> None:
        """A submit_sm_resp (or generic_nack) answered a part."""
        self.record(
            Fact(
                "resp",
                at,
                key,
                part,
                name=bind,
                code=status,
                ref=smsc_id,
                value=latency_ms,
                flag=int(generic_nack),
            )
        )

    def record_timeout(self, key: str, part: int, at: float, *, bind: str | None = None) -> None:
        """A submit_sm went unanswered past the response timeout."""
        self.record(Fact("timeout", at, key, part, name=bind))

    def record_receipt(
        self,
        key: str | None,
        part: int,
        at: float,
        *,
        stat: str,
        err: str | None = None,
        smsc_id: str | None = None,
        bind: str | None = None,
    ) -> None:
        """A delivery receipt was read; `key` None when it matched no message."""
        self.record(
            Fact("receipt", at, key or "", part, name=bind, stat=stat, err=err, ref=smsc_id)
        )

    def record_final(
        self, key: str, at: float, state: str, *, reason: str | None = None, attempts: int = 0
    ) -> None:
        """A message reached a terminal state."""
        self.record(Fact("final", at, key, stat=state, text=reason, number=attempts))

    def record_mo_sent(
        self,
        at: float,
        *,
        source: str,
        destination: str,
        text: str,
        parts: int = 1,
        key: str = "",
        in_reply_to: str | None = None,
    ) -> None:
        """A simulated handset sent a reply (the whole message)."""
        self.record(
            Fact(
                "mo_sent",
                at,
                key,
                source=source,
                destination=destination,
                text=text,
                number=parts,
                ref=in_reply_to,
            )
        )

    def record_mo_received(
        self,
        at: float,
        *,
        source: str,
        destination: str,
        text: str,
        parts: int = 1,
        reassembled: bool = False,
    ) -> None:
        """The gateway received an MO message (after reassembly)."""
        self.record(
            Fact(
                "mo_received",
                at,
                source=source,
                destination=destination,
                text=text,
                number=parts,
                flag=int(reassembled),
            )
        )

    def record_event(
        self, name: str, at: float, *, key: str = "", part: int = 0, detail: str | None = None
    ) -> None:
        """An audit or session fact (`EVENT_COUNTERS` lists the names that count)."""
        self.record(Fact("event", at, key, part, name=name, text=detail))

    # -- the bus bridge -------------------------------------------------------------------------

    def key_of(self, message_id: str | None) -> str | None:
        """The message key of a gateway message id seen in a `MessageAccepted`."""
        return None if message_id is None else self._ids.get(message_id)

    def observe(self, event: Event) -> None:
        """Record what a bus event says (events that say nothing for the ledger are ignored).

        Gateway events name messages by the gateway's id; the key comes from the
        `MessageAccepted` that introduced the id (its `message_key`, else the id itself).
        Simulator-side audit facts arrive as `Alert`s (their `message_key`, reduced to the
        traffic key by `traffic_key`).

        Args:
            event: Any event from `sms.bus.events`.
        """
        if isinstance(event, MessageAccepted):
            key = event.message_key or event.message_id
            self.record_accepted(
                key,
                event.at,
                parts=event.parts,
                encoding=str(event.encoding),
                message_id=event.message_id,
            )
        elif isinstance(event, PartSubmitted):
            self.record_submit(
                self._ids.get(event.message_id, event.message_id),
                event.part,
                event.at,
                attempt=event.attempt,
                bind=event.bind_id,
                sequence_number=event.sequence_number,
            )
        elif isinstance(event, SubmitResponded):
            self.record_resp(
                self._ids.get(event.message_id, event.message_id),
                event.part,
                event.at,
                status=event.command_status,
                smsc_id=event.smsc_message_id,
                latency_ms=event.latency_ms,
                bind=event.bind_id,
                generic_nack=event.generic_nack,
            )
        elif isinstance(event, SubmitTimedOut):
            self.record_timeout(
                self._ids.get(event.message_id, event.message_id),
                event.part,
                event.at,
                bind=event.bind_id,
            )
        elif isinstance(event, ReceiptReceived):
            key = None
            if event.message_id is not None:
                key = self._ids.get(event.message_id, event.message_id)
            self.record_receipt(
                key,
                event.part or 1,
                event.at,
                stat=event.stat,
                err=event.err,
                smsc_id=event.smsc_message_id,
                bind=event.bind_id,
            )
        elif isinstance(event, MessageFinal):
            key = event.message_key or self._ids.get(event.message_id, event.message_id)
            self.record_final(
                key, event.at, event.state, reason=event.reason, attempts=event.attempts
            )
        elif isinstance(event, MoReceived):
            self.record_mo_received(
                event.at,
                source=event.source,
                destination=event.destination,
                text=event.text,
                parts=event.parts,
                reassembled=event.reassembled,
            )
        elif isinstance(event, MoSent):
            self.record_mo_sent(
                event.at,
                source=event.source,
                destination=event.destination,
                text=event.text,
                parts=event.parts,
            )
        elif isinstance(event, Alert):
            if event.message_key:
                key = traffic_key(event.message_key)
            else:
                key = self._ids.get(event.message_id or "", "")
            self.record_event(event.alert_kind, event.at, key=key, detail=event.detail or None)
        elif isinstance(event, BindStateChanged) and event.component == "gateway":
            bind = f"{event.instance}/{event.bind_id}"
            if event.state == "bound":
                if self._bound.get(bind) is False:
                    self.record_event("bind_reconnected", event.at, detail=bind)
                self._bound[bind] = True
            elif event.state == "closed" and event.reason and self._bound.get(bind):
                self._bound[bind] = False
                self.record_event("bind_lost", event.at, detail=f"{bind}: {event.reason}")
            elif event.state in ("closed", "unbinding"):
                self._bound.pop(bind, None)
        elif isinstance(event, FaultInjected):
            self.record_event("fault_injected", event.at, detail=event.fault_kind)

    # -- results and closing --------------------------------------------------------------------

    def results(
        self, *, light: bool = False, end_at: float | None = None, wall_s: float | None = None
    ) -> RunResults:
        """The results so far (see `ResultsBuilder.results`)."""
        return self.builder.results(light=light, end_at=end_at, wall_s=wall_s)

    def flush(self) -> None:
        """Commit the buffered facts and messages in one transaction.

        Raises:
            LedgerError: SQLite failed (disk full, I/O error).
        """
        if not self._facts and not self._messages:
            return
        try:
            self._conn.execute("BEGIN")
            if self._messages:
                self._conn.executemany(_MESSAGE_INSERT, self._messages)
            if self._facts:
                self._conn.executemany(_FACT_INSERT, self._facts)
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise LedgerError(f"{self.path}: cannot write the ledger: {exc}") from None
        self._facts.clear()
        self._messages.clear()

    def close(self, results: RunResults | None = None) -> None:
        """Flush, write the outcomes table and the results, and close the file.

        Args:
            results: The final results to store (and whose outcomes fill the `outcomes`
                table); None: compute them now.
        """
        if self._closed:
            return
        self.flush()
        final = results if results is not None else self.results()
        outcomes = final.outcomes or self.builder.outcomes()
        rows = [
            (
                o.key,
                o.stream,
                o.destination,
                o.text_digest,
                o.parts,
                int(o.accepted),
                o.refused,
                o.state,
                o.reason,
                _join(o.part_stats),
                _join(o.events),
                o.attempts,
            )
            for o in outcomes.values()
        ]
        try:
            self._conn.execute("BEGIN")
            self._conn.execute("DELETE FROM outcomes")
            self._conn.executemany(
                "INSERT INTO outcomes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
            )
            self._conn.execute("COMMIT")
            # Built once at the end: maintaining it during the run would slow every batch.
            self._conn.execute("CREATE INDEX IF NOT EXISTS facts_key ON facts (key, part)")
            self.set_meta({"results": final.to_json(), "closed": True})
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: cannot finish the ledger: {exc}") from None
        finally:
            self._conn.close()
            self._closed = True

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# ---------------------------------------------------------------------------------------------
# Reading and comparing
# ---------------------------------------------------------------------------------------------


def _ledger_file(path: Path | str) -> Path:
    p = Path(path)
    return p / "ledger.sqlite" if p.is_dir() else p


class LedgerReader:
    """Reads a ledger written by `Ledger` (while it runs, or after)."""

    def __init__(self, path: Path | str) -> None:
        """Open a ledger read-only.

        Args:
            path: The ledger file, or a run directory holding ``ledger.sqlite``.

        Raises:
            LedgerError: Not a ledger, or another layout version.
        """
        self.path = _ledger_file(path)
        if not self.path.is_file():
            raise LedgerError(f"{self.path}: no such ledger")
        self._conn = _connect(self.path, readonly=True)
        try:
            version = self.meta().get("ledger_schema_version")
        except sqlite3.Error:
            self._conn.close()
            raise LedgerError(f"{self.path}: not a run ledger") from None
        if version != LEDGER_SCHEMA_VERSION:
            self._conn.close()
            raise LedgerError(
                f"{self.path}: ledger layout {version!r}, this code reads {LEDGER_SCHEMA_VERSION}"
            )

    def close(self) -> None:
        """Close the file."""
        self._conn.close()

    def __enter__(self) -> LedgerReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def meta(self) -> dict[str, Any]:
        """All metadata (JSON-decoded)."""
        rows = self._conn.execute("SELECT name, value FROM meta").fetchall()
        return {name: json.loads(value) for name, value in rows}

    def scenario_text(self) -> str | None:
        """The scenario document the run used, if stored."""
        value = self.meta().get("scenario_text")
        return value if isinstance(value, str) else None

    def facts(self) -> Iterator[Fact]:
        """Every fact in recording order."""
        cursor = self._conn.execute(
            "SELECT kind, at, key, part, name, code, stat, err, ref, value, text, source,"
            " destination, number, flag FROM facts ORDER BY seq"
        )
        for row in cursor:
            yield Fact(
                kind=row[0],
                at=row[1],
                key=row[2],
                part=row[3],
                name=row[4],
                code=row[5],
                stat=row[6],
                err=row[7],
                ref=row[8],
                value=row[9],
                text=row[10],
                source=row[11],
                destination=row[12],
                number=row[13],
                flag=row[14],
            )

    def _planned(self) -> Iterator[PlannedMessage]:
        cursor = self._conn.execute(
            "SELECT key, stream, at, destination, source, text, text_kind, owner, obtained"
            " FROM messages ORDER BY at, key"
        )
        for row in cursor:
            yield PlannedMessage(*row)

    def replay(self) -> ResultsBuilder:
        """A builder fed with every stored message and fact."""
        meta = self.meta()
        builder = ResultsBuilder(
            scenario=str(meta.get("scenario", "")),
            run_id=str(meta.get("run_id", "")),
            seed=int(meta.get("seed", 0) or 0),
            start_at=meta.get("start_at"),
        )
        for planned in self._planned():
            builder.planned(planned)
        for fact in self.facts():
            builder.add(fact)
        return builder

    def results(self) -> RunResults:
        """The results recomputed from the stored facts."""
        stored = self.meta().get("results")
        end_at = stored.get("end_at") if isinstance(stored, dict) else None
        wall_s = stored.get("wall_s") if isinstance(stored, dict) else None
        return self.replay().results(end_at=end_at, wall_s=wall_s)

    def outcomes(self) -> dict[str, MessageOutcome]:
        """Per-message outcomes: the stored table when the run was closed, else a replay."""
        rows = self._conn.execute(
            "SELECT key, stream, destination, text_digest, parts, accepted, refused, state,"
            " reason, part_stats, events, attempts FROM outcomes"
        ).fetchall()
        if not rows and not self.meta().get("closed"):
            return self.replay().outcomes()
        return {
            row[0]: MessageOutcome(
                key=row[0],
                stream=row[1],
                destination=row[2],
                text_digest=row[3],
                parts=row[4],
                accepted=bool(row[5]),
                refused=row[6],
                state=row[7],
                reason=row[8],
                part_stats=tuple(None if p == "-" else p for p in _split(row[9])),
                events=tuple(e for e in _split(row[10]) if e),
                attempts=row[11],
            )
            for row in rows
        }


@dataclass(frozen=True, slots=True)
class Difference:
    """One per-message difference between two runs."""

    key: str
    """Message key."""
    field: str
    """What differs: presence, destination, text, parts, accepted, refused, state,
    ``part[N].stat``, events."""
    a: str | None
    """Value in the first run."""
    b: str | None
    """Value in the second run."""

    def __str__(self) -> str:
        return f"{self.key}: {self.field}: {self.a} -> {self.b}"


def _show(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value) or "-"
    return str(value)


def _diff_one(key: str, a: MessageOutcome, b: MessageOutcome) -> Iterator[Difference]:
    for name in ("destination", "text_digest", "parts", "accepted", "refused", "state"):
        va, vb = getattr(a, name), getattr(b, name)
        if va != vb:
            yield Difference(key, "text" if name == "text_digest" else name, _show(va), _show(vb))
    for i in range(max(len(a.part_stats), len(b.part_stats))):
        sa = a.part_stats[i] if i < len(a.part_stats) else None
        sb = b.part_stats[i] if i < len(b.part_stats) else None
        if sa != sb:
            yield Difference(key, f"part[{i + 1}].stat", sa, sb)
    if a.events != b.events:
        yield Difference(key, "events", _show(a.events), _show(b.events))


def _outcomes_of(
    source: Path | str | LedgerReader | Mapping[str, MessageOutcome],
) -> Mapping[str, MessageOutcome]:
    if isinstance(source, LedgerReader):
        return source.outcomes()
    if isinstance(source, Path | str):
        with LedgerReader(source) as reader:
            return reader.outcomes()
    return source


def compare_ledgers(
    a: Path | str | LedgerReader | Mapping[str, MessageOutcome],
    b: Path | str | LedgerReader | Mapping[str, MessageOutcome],
) -> list[Difference]:
    """Every per-message difference in outcome between two runs, keyed by message key.

    Arrival order, timing, SMSC ids and attempt counts are not compared: a replay under other
    concurrency must show no difference when the per-message fates are the same.

    Args:
        a: The first run: a ledger file, a run directory, a reader, or outcomes by key.
        b: The second run, likewise.

    Returns:
        The differences, sorted by key then field; empty when the outcomes are equal.
    """
    oa, ob = _outcomes_of(a), _outcomes_of(b)
    out: list[Difference] = []
    for key in sorted(set(oa) | set(ob)):
        xa, xb = oa.get(key), ob.get(key)
        if xa is None or xb is None:
            out.append(
                Difference(key, "presence", "present" if xa else None, "present" if xb else None)
            )
            continue
        out.extend(_diff_one(key, xa, xb))
    return out


# ---------------------------------------------------------------------------------------------
# Run directories
# ---------------------------------------------------------------------------------------------

_PROJECT_ROOT: Final[Path] = Path(__file__).resolve().parents[1]


def build_version(root: Path | None = None) -> str:
    """What code ran: ``git describe --always --dirty --tags``, else the package version.

    Args:
        root: The source tree; None: this package's.

    Returns:
        A version string (``unknown`` when neither is available).
    """
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=root or _PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        if done.returncode == 0 and done.stdout.strip():
            return done.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return metadata.version("sms-harness")
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True, slots=True)
class RunDirectory:
    """``runs/<scenario>-<timestamp>/``: everything one run leaves behind."""

    path: Path
    """The directory."""
    run_id: str
    """Its name."""
    meta: Mapping[str, Any]
    """What `run.json` holds."""

    @property
    def scenario_file(self) -> Path:
        """The copy of the scenario file."""
        return self.path / "scenario.yaml"

    @property
    def ledger_file(self) -> Path:
        """The ledger."""
        return self.path / "ledger.sqlite"

    @property
    def results_file(self) -> Path:
        """The JSON report."""
        return self.path / "results.json"

    @property
    def report_file(self) -> Path:
        """The HTML report."""
        return self.path / "report.html"


def _scenario_text(scenario: Scenario) -> str:
    if scenario.source_text is not None:
        return scenario.source_text
    data = scenario.model_dump(mode="json", exclude_defaults=True)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def create_run_directory(
    scenario: Scenario,
    root: Path | str = "runs",
    *,
    now: datetime | None = None,
    extra: Mapping[str, Any] | None = None,
) -> RunDirectory:
    """Create ``<root>/<scenario>-<timestamp>/`` with the scenario copy and ``run.json``.

    Args:
        scenario: The scenario about to run.
        root: Parent directory of run directories.
        now: Wall-clock time for the name; None: now (UTC).
        extra: More metadata for ``run.json`` (speed overrides, argv, ...).

    Returns:
        The run directory.

    Raises:
        LedgerError: The directory cannot be created.
    """
    when = (now or datetime.now(UTC)).astimezone(UTC)
    base = Path(root)
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    try:
        base.mkdir(parents=True, exist_ok=True)
        for n in itertools.count(1):
            run_id = f"{scenario.name}-{stamp}" + ("" if n == 1 else f"-{n}")
            path = base / run_id
            try:
                path.mkdir()
                break
            except FileExistsError:
                continue
        text = _scenario_text(scenario)
        (path / "scenario.yaml").write_text(text, encoding="utf-8")
        meta: dict[str, Any] = {
            "run_id": run_id,
            "scenario": scenario.name,
            "seed": scenario.seed,
            "speed": scenario.speed,
            "start_at": scenario.start_s,
            "created_at": when.isoformat(),
            "build_version": build_version(),
            "source_path": None if scenario.source_path is None else str(scenario.source_path),
            **(extra or {}),
        }
        (path / "run.json").write_text(
            json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    except OSError as exc:
        raise LedgerError(f"{base}: cannot create a run directory: {exc}") from None
    return RunDirectory(path, run_id, meta)


def open_ledger(run: RunDirectory, *, batch_size: int = 5000) -> Ledger:
    """Create the run's ledger, with the run's metadata and scenario text in it.

    Args:
        run: The run directory.
        batch_size: Facts per committed batch.

    Returns:
        The open ledger.
    """
    meta = dict(run.meta)
    meta["scenario_text"] = run.scenario_file.read_text(encoding="utf-8")
    return Ledger(
        run.ledger_file,
        scenario=str(meta["scenario"]),
        run_id=run.run_id,
        seed=int(meta["seed"]),
        start_at=float(meta["start_at"]),
        meta=meta,
        batch_size=batch_size,
    )


def replay_outcomes(facts: Iterable[Fact]) -> dict[str, MessageOutcome]:
    """Outcomes of a bare fact sequence (for tests and tools).

    Args:
        facts: Facts in recording order.

    Returns:
        Outcomes by key.
    """
    builder = ResultsBuilder()
    for fact in facts:
        builder.add(fact)
    return builder.outcomes()
