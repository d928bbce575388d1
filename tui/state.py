"""The operator's picture of the system, folded from bus events.

Rule 1: everything a screen shows is computed here, from ``(topic, event, now)`` triples. Screens
only read this model and format it; they never interpret an event themselves.

Rule 2: this module does not know about Textual, sockets or clocks. `now` is the viewer's clock
reading, passed in by the caller; it is used only to bucket rates for sparklines (the publishers'
`at` may be simulated time running thousands of times faster, so it cannot drive a rate shown to a
person). Everything else uses the events' own `at`.

Handsets:
    A handset's threads are keyed by the sender *as the handset displays it*. Until the simulator
    says a message landed (`HandsetDelivered`), the gateway's `MessageAccepted` (or the
    simulator's `SubmitReceived`) puts a placeholder line in the thread of the submitted sender,
    describing the message's shape. When `HandsetDelivered` arrives it upgrades that line (found
    by message key, else the oldest undelivered line of the same sender on that number): the real
    text, the displayed sender (the line moves threads when the registry relabelled the sender),
    and the spoof / relabel / misdelivery / quiet-hours flags. A delivery nothing announced (a
    spoof injected by the simulated attacker) becomes a new line in the displayed sender's thread,
    which is exactly where the subscriber would see it.

Invariants:
    * Memory is bounded whatever the event rate: the last `MAX_MESSAGES` messages (oldest evicted
      first, by first sight), `MAX_STEPS` lifecycle steps per message, `MAX_ALERTS` alerts,
      `MAX_HANDSETS` handsets with at most `MAX_THREADS` threads (least recently active dropped
      first) of `MAX_THREAD_ENTRIES` entries each, `MAX_CAMPAIGNS` campaigns, `RATE_SPAN` seconds
      of rate history per series (`MAX_BIND_RATE_POINTS` metric points per bind),
      `MAX_CONTROLS` control records.
    * Applying an event never raises for unexpected content (unknown ids, out-of-order arrival,
      a receipt before its submit): it creates a stub or records the fact as unmatched.
    * Status counts (`status_counts`) always equal a count of the live records' `status`.
    * Where the same figure can come from two places, aggregated `MetricsSnapshot`s win over
      per-message events (snapshots are complete even when a busy subscriber dropped events), and
      the gateway's view wins over the simulator's. Each query says which it used (`origin`).
"""

from __future__ import annotations

from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final, Literal, TypeAlias

from sms.bus.errors import TopicError
from sms.bus.events import (
    Alert,
    BindStateChanged,
    CampaignProgress,
    Control,
    ControlAcknowledged,
    Event,
    FaultCleared,
    FaultInjected,
    HandsetDelivered,
    MessageAccepted,
    MessageFinal,
    MetricsSnapshot,
    MoReceived,
    MoSent,
    PartSubmitted,
    QueueDepths,
    ReceiptReceived,
    ReceiptSent,
    ScenarioProgress,
    SubmitReceived,
    SubmitResponded,
    Throttled,
)
from sms.bus.metrics import BIND_SUBMITTED, LogHistogram
from sms.bus.topics import TopicParts, parse_topic

__all__ = [
    "HANDSET_FLAGS",
    "KEY_ALERT_KINDS",
    "MAX_ALERTS",
    "MAX_BIND_RATE_POINTS",
    "MAX_CAMPAIGNS",
    "MAX_CONTROLS",
    "MAX_HANDSETS",
    "MAX_MESSAGES",
    "MAX_STEPS",
    "MAX_THREADS",
    "MAX_THREAD_ENTRIES",
    "RATE_SPAN",
    "AlertView",
    "BindKey",
    "BindView",
    "CampaignView",
    "ControlRecord",
    "ExpectationView",
    "FaultView",
    "Handset",
    "HandsetEntry",
    "LatencyRow",
    "MessageRecord",
    "OpsState",
    "RateSeries",
    "ScenarioView",
    "Source",
    "harness_key",
]

#: Messages kept (oldest first seen is evicted first).
MAX_MESSAGES: Final[int] = 10_000
#: Lifecycle steps kept per message (the newest; `MessageRecord.steps_dropped` counts the rest).
MAX_STEPS: Final[int] = 64
#: Alerts kept for the list (counts by kind are kept for all).
MAX_ALERTS: Final[int] = 500
#: Handsets kept (least recently active evicted first).
MAX_HANDSETS: Final[int] = 2_000
#: Entries kept per thread of a handset.
MAX_THREAD_ENTRIES: Final[int] = 50
#: Threads kept per handset (the least recently active is dropped first).
MAX_THREADS: Final[int] = 30
#: Campaigns kept (the least recently updated is dropped first).
MAX_CAMPAIGNS: Final[int] = 200
#: Per-bind rate points from metrics snapshots kept (one per snapshot).
MAX_BIND_RATE_POINTS: Final[int] = 60
#: Seconds of rate history (sparkline width) per series.
RATE_SPAN: Final[int] = 60
#: Control requests and acknowledgements kept.
MAX_CONTROLS: Final[int] = 100
#: Links from an SMSC message id to a gateway message id kept.
_MAX_SMSC_LINKS: Final[int] = 2 * MAX_MESSAGES
#: Simulator-side facts kept while waiting to learn which gateway message they belong to.
_MAX_PENDING_SMSC: Final[int] = 4_096
#: Seconds within which an MO seen by the gateway is taken to be one the simulator sent.
_MO_MATCH_S: Final[float] = 120.0
#: Prefixes of simulator message keys derived from the PDU rather than given by the caller.
_DERIVED_KEY_PREFIXES: Final[frozenset[str]] = frozenset({"u:", "h:", "c:"})
#: Message keys remembered to match a handset delivery to its gateway message.
_MAX_KEYS: Final[int] = MAX_MESSAGES

#: The alert kinds a night-shift operator must never miss; the overview always shows their
#: counts and a new one pops up as an error. The rule for membership: the alert means a person
#: was already harmed or the company broke a promise or a law, and only a human can follow it up.
#: ``misdelivery`` (a debt reminder reached a recycled number's new owner: a privacy breach),
#: ``spoof_delivered_into_thread`` (a fraudster's text sits in the customer's thread with us,
#: looking like ours), ``sent_after_opt_out`` (we messaged someone who replied STOP) and
#: ``delivered_in_quiet_hours`` (a reminder woke someone at night). Throttling, backlogs, lost
#: receipts and bind losses are operational: they show in the binds table, the queues and the
#: alert list, and the system recovers from them by itself; blocked spoofs, filters and opt-outs
#: are the system working as intended.
KEY_ALERT_KINDS: Final[tuple[str, ...]] = (
    "misdelivery",
    "spoof_delivered_into_thread",
    "sent_after_opt_out",
    "delivered_in_quiet_hours",
)
#: Handset flags set from `HandsetDelivered` (named after the matching alert kinds, so an alert
#: about the same message does not add a second flag), in display order.
HANDSET_FLAGS: Final[tuple[str, ...]] = (
    "spoofed",
    "sender_relabelled",
    "misdelivery",
    "delivered_in_quiet_hours",
)
#: Thread name for entries that cannot be put into a conversation with a known peer.
ALERTS_THREAD: Final[str] = "(alerts)"

Source: TypeAlias = tuple[str, str]
"""(component, instance) of a publisher."""
BindKey: TypeAlias = tuple[str, str, str]
"""(component, instance, bind_id) of a session."""
Direction: TypeAlias = Literal["mt", "mo"]

# Message statuses that are not terminal (terminal ones are the `FinalState` values).
QUEUED: Final[str] = "queued"
SCHEDULED: Final[str] = "scheduled"
IN_FLIGHT: Final[str] = "in flight"
AWAITING_RECEIPT: Final[str] = "awaiting receipt"
RETRYING: Final[str] = "retrying"
RECEIVED: Final[str] = "received"
SEEN: Final[str] = "seen"
"""A message known only from later events (accepted before the viewer started)."""


class RateSeries:
    """Counts per whole second of the viewer's clock over the last `span` seconds."""

    __slots__ = ("_buckets", "span", "total")

    def __init__(self, span: int = RATE_SPAN) -> None:
        """Create an empty series.

        Args:
            span: Seconds of history kept.
        """
        self.span = span
        """Seconds of history kept."""
        self.total = 0
        """Everything ever added."""
        self._buckets: deque[list[int]] = deque()

    def add(self, now: float, n: int = 1) -> None:
        """Count `n` occurrences at `now` (a clock that steps back counts into the last second).

        Args:
            now: The viewer's clock.
            n: How many.
        """
        second = int(now)
        buckets = self._buckets
        self.total += n
        if buckets and buckets[-1][0] >= second:
            buckets[-1][1] += n
            return
        buckets.append([second, n])
        while buckets[0][0] <= second - self.span:
            buckets.popleft()

    def values(self, now: float, width: int | None = None) -> list[int]:
        """Counts per second, oldest first, ending with the second `now` is in.

        Args:
            now: The viewer's clock.
            width: How many seconds (the span when None).

        Returns:
            `width` counts (zeros where nothing happened).
        """
        width = self.span if width is None else min(width, self.span)
        end = int(now)
        start = end - width + 1
        out = [0] * width
        for second, count in self._buckets:
            if start <= second <= end:
                out[second - start] += count
        return out

    def rate(self, now: float, seconds: int = 5) -> float:
        """Average per second over the last `seconds` seconds, the current one included.

        Args:
            now: The viewer's clock.
            seconds: The averaging window.

        Returns:
            Occurrences per second.
        """
        return sum(self.values(now, seconds)) / seconds


@dataclass(slots=True)
class BindView:
    """One SMPP session as the operator sees it."""

    component: str
    """Owner (`gateway` or `simulator`)."""
    instance: str
    """Owner's instance."""
    bind_id: str
    """Session name within the instance."""
    state: str = "?"
    """Last `BindState` seen, ``?`` until a `BindStateChanged` arrives."""
    mode: str = ""
    """Bind type."""
    system_id: str = ""
    """SMPP system_id."""
    peer: str = ""
    """The other end."""
    paused: bool = False
    """Paused by an operator."""
    reason: str | None = None
    """Why the state last changed, when not the normal flow."""
    since: float | None = None
    """`at` of the last state change."""
    window_in_flight: int | None = None
    """Outstanding requests (from metrics)."""
    window_size: int | None = None
    """Window size (from metrics)."""
    submits: int = 0
    """Parts submitted on (or received by) this session."""
    errors: int = 0
    """Non-zero responses on this session."""
    throttles: int = 0
    """Throttling responses on this session."""
    rate: RateSeries = field(default_factory=RateSeries)
    """Submits per second of the viewer's clock (counted from events)."""
    metric_rates: deque[float] = field(default_factory=lambda: deque(maxlen=MAX_BIND_RATE_POINTS))
    """Submit rate of each metrics snapshot that reported this bind, oldest first (per second
    of the publisher's clock). Preferred over `rate` when present: snapshots are complete even
    when this viewer dropped events."""
    metric_submits: int | None = None
    """Submits reported by the latest snapshot (cumulative), if any reported this bind."""

    @property
    def key(self) -> BindKey:
        """(component, instance, bind_id)."""
        return (self.component, self.instance, self.bind_id)

    @property
    def label(self) -> str:
        """``instance/bind_id`` for a table cell."""
        return f"{self.instance}/{self.bind_id}"

    def submit_rate(self, now: float) -> tuple[float, str]:
        """The bind's current submit rate and where it comes from.

        Args:
            now: The viewer's clock (used only for the event-counted rate).

        Returns:
            ``(rate, "metrics")`` from the latest snapshot, else ``(rate, "events")`` averaged
            over the last five seconds of the viewer's clock.
        """
        if self.metric_rates:
            return self.metric_rates[-1], "metrics"
        return self.rate.rate(now), "events"

    def submit_history(self, now: float, width: int) -> list[float]:
        """The last `width` points of the submit rate, oldest first (zeros before the first).

        Args:
            now: The viewer's clock.
            width: Points wanted.

        Returns:
            Per-snapshot rates when metrics reported this bind, else per-second event counts.
        """
        if self.metric_rates:
            points = list(self.metric_rates)[-width:]
            return [0.0] * (width - len(points)) + points
        return [float(v) for v in self.rate.values(now, width)]


@dataclass(slots=True, eq=False)
class HandsetEntry:
    """One line of a conversation on a handset."""

    at: float
    """When (publisher's clock)."""
    direction: Literal["in", "out", "alert"]
    """in: delivered to the handset (MT); out: sent by it (MO); alert: a warning about it."""
    peer: str
    """The other party (sender id or short code), or `ALERTS_THREAD`."""
    text: str
    """MO text; MT text once delivered (`HandsetDelivered`), a description of the MT before."""
    status: str
    """Where the message stands (kept up to date while the message is tracked)."""
    message_id: str | None = None
    """Gateway message id, if known."""
    smsc_message_id: str | None = None
    """SMSC message id, if known."""
    flags: list[str] = field(default_factory=list)
    """`HANDSET_FLAGS` and alert kinds raised about this entry."""
    delivered: bool = False
    """True once the handset has the whole message (MT: `HandsetDelivered` seen)."""
    parts: int = 1
    """Parts the message arrived in (MT, once delivered)."""
    sent_as: str | None = None
    """The sender it was submitted with, when the handset displays another (relabelled)."""
    message_key: str | None = None
    """The harness message key, if known."""


@dataclass(slots=True)
class Handset:
    """What one number sees: conversations by peer."""

    number: str
    """The MSISDN."""
    threads: dict[str, deque[HandsetEntry]] = field(default_factory=dict)
    """Entries by peer, oldest `at` first."""
    last_at: float = 0.0
    """`at` of the newest entry."""
    alerts: int = 0
    """Alerts raised about this number."""
    thread_sizes: dict[str, int] = field(default_factory=dict)
    """Messages in each thread as the handset counts them (`HandsetDelivered.thread_size`),
    which may exceed the entries kept."""
    flagged: int = 0
    """Deliveries that arrived with a flag (spoofed, relabelled, misdelivered, quiet hours)."""
    threads_dropped: int = 0
    """Threads let go to stay within `MAX_THREADS`."""

    def add(self, entry: HandsetEntry) -> None:
        """Put an entry in the thread of its peer, in `at` order (the oldest go when it is full).

        A new thread beyond `MAX_THREADS` drops the least recently active other thread.
        """
        self._append(entry)
        if entry.direction == "alert":
            self.alerts += 1

    def _append(self, entry: HandsetEntry) -> None:
        thread = self.threads.get(entry.peer)
        if thread is None:
            thread = self.threads[entry.peer] = deque(maxlen=MAX_THREAD_ENTRIES)
            if len(self.threads) > MAX_THREADS:
                stalest = min(
                    (kv for kv in self.threads.items() if kv[0] != entry.peer),
                    key=lambda kv: kv[1][-1].at if kv[1] else float("-inf"),
                )[0]
                del self.threads[stalest]
                self.thread_sizes.pop(stalest, None)
                self.threads_dropped += 1
        index = len(thread)
        while index and thread[index - 1].at > entry.at:  # keep the thread in time order
            index -= 1
        if index == len(thread):
            thread.append(entry)
        elif index or len(thread) < MAX_THREAD_ENTRIES:
            if len(thread) == MAX_THREAD_ENTRIES:
                thread.popleft()
                index -= 1
            thread.insert(index, entry)
        # else: older than everything in a full thread; it would be the first to go anyway
        self.last_at = max(self.last_at, entry.at)

    def discard(self, entry: HandsetEntry) -> None:
        """Remove an entry (a duplicate learnt later), and its thread if that empties."""
        thread = self.threads.get(entry.peer)
        if thread is not None and entry in thread:
            thread.remove(entry)
            if not thread:
                del self.threads[entry.peer]
                self.thread_sizes.pop(entry.peer, None)

    def rethread(self, entry: HandsetEntry, peer: str, at: float) -> None:
        """Move an entry to the thread of `peer` (kept or not), as of `at`.

        Args:
            entry: The entry (it need not be in a thread any more).
            peer: The thread it belongs to now.
            at: Its new time (the delivery's).
        """
        self.discard(entry)
        entry.peer = peer
        entry.at = max(entry.at, at)
        self._append(entry)

    def ordered_threads(self) -> list[tuple[str, deque[HandsetEntry]]]:
        """Threads, most recently active first."""
        return sorted(self.threads.items(), key=lambda kv: kv[1][-1].at, reverse=True)

    def thread_size(self, peer: str) -> int:
        """Messages in a thread: the handset's count if it reported one, else the messages kept.

        Alert lines are not messages and are not counted.
        """
        thread = self.threads.get(peer)
        kept = sum(1 for e in thread if e.direction != "alert") if thread is not None else 0
        return max(kept, self.thread_sizes.get(peer, 0))


@dataclass(slots=True, eq=False)
class MessageRecord:
    """One message (MT or MO) and its lifecycle."""

    message_id: str
    """Gateway message id."""
    first_seen: float
    """`at` of the first event about it."""
    direction: Direction = "mt"
    """mt: sent through the gateway; mo: received from a handset."""
    message_key: str | None = None
    """Caller's key."""
    source: str | None = None
    """Sender id (MT) or handset (MO)."""
    destination: str = ""
    """Handset (MT) or short code (MO); empty when not known yet."""
    parts: int = 1
    """Parts planned (MT) or received (MO)."""
    encoding: str = ""
    """Text encoding."""
    campaign_id: str | None = None
    """Campaign, if any."""
    scheduled_for: float | None = None
    """Deferred until, if deferred."""
    status: str = SEEN
    """Where it stands: queued, scheduled, in flight, awaiting receipt, retrying, or final."""
    final: str | None = None
    """Terminal state, once reached."""
    reason: str | None = None
    """Why it ended, or the last error."""
    attempts: int = 0
    """submit_sm writes over all parts."""
    parts_ok: set[int] = field(default_factory=set)
    """Parts answered with ESME_ROK."""
    last_status: int | None = None
    """The last non-zero command_status."""
    receipts: dict[int, str] = field(default_factory=dict)
    """Receipt `stat` by part (0 when the part is not known)."""
    smsc_ids: list[str] = field(default_factory=list)
    """SMSC message ids of its parts."""
    bind_id: str | None = None
    """The session it last went out on (or came in on)."""
    text: str | None = None
    """MO text."""
    elapsed_ms: float | None = None
    """Acceptance to terminal state."""
    updated: float = 0.0
    """`at` of the newest event about it."""
    version: int = 0
    """`OpsState.version` of its latest change (views cache what they drew of it)."""
    steps: list[tuple[str, Event]] = field(default_factory=list)
    """Its events with their topics, in arrival order (the newest `MAX_STEPS`)."""
    steps_dropped: int = 0
    """Older steps that were let go."""
    entry: HandsetEntry | None = None
    """Its line on the handset screen, if any."""

    def search_text(self) -> str:
        """Everything a search can match, lower-cased."""
        return " ".join(
            s
            for s in (
                self.message_id,
                self.message_key or "",
                self.source or "",
                self.destination,
                self.status,
                self.campaign_id or "",
                self.bind_id or "",
                self.direction,
                self.text or "",
                " ".join(self.smsc_ids),
            )
            if s
        ).lower()


@dataclass(slots=True, frozen=True)
class AlertView:
    """One alert, with where it came from."""

    at: float
    """When."""
    alert_kind: str
    """What about."""
    severity: str
    """info / warning / critical."""
    detail: str
    """Explanation."""
    destination: str | None
    """Number concerned."""
    message_id: str | None
    """Message concerned."""
    message_key: str | None
    """Caller's key of the message concerned."""
    source: Source
    """Publisher."""
    sender: str | None = None
    """Sender ID concerned (as displayed on the handset), if any."""


@dataclass(slots=True)
class CampaignView:
    """The latest `CampaignProgress` of one campaign, with its publisher."""

    progress: CampaignProgress
    """The newest progress seen (by `at`)."""
    source: Source
    """The component instance that published it."""
    first_at: float
    """`at` of its first progress seen."""
    updates: int = 1
    """Progress events seen for it."""

    @property
    def excluded_total(self) -> int:
        """Recipients excluded, over every reason."""
        return sum(self.progress.excluded.values())

    def state_count(self, *states: str) -> int:
        """Messages in any of the given gateway states."""
        return sum(self.progress.states.get(state, 0) for state in states)


@dataclass(slots=True, frozen=True)
class FaultView:
    """An active fault."""

    fault_id: str
    """Activation id."""
    fault_kind: str
    """Scenario fault kind."""
    target: str | None
    """What it applies to."""
    at: float
    """Since when."""
    until: float | None
    """When it clears by itself."""
    source: Source
    """The component instance that runs it (the one to ask to clear it)."""
    params: str
    """Its parameters, compactly."""


@dataclass(slots=True)
class ExpectationView:
    """One scenario expectation and when it last changed."""

    name: str
    """Name in the scenario."""
    status: str
    """pending / pass / fail."""
    detail: str | None
    """Observed value or failure reason."""
    changed_at: float
    """`at` of the progress event where the status last changed."""


@dataclass(slots=True)
class ScenarioView:
    """The current scenario run."""

    run_id: str
    """Run id."""
    scenario: str
    """Scenario name."""
    phase: str
    """Current phase."""
    elapsed_s: float
    """Simulated seconds since start."""
    progress: float | None
    """Share of traffic done."""
    at: float
    """`at` of the last progress event."""
    expectations: dict[str, ExpectationView] = field(default_factory=dict)
    """Expectations in scenario order."""
    phases_seen: list[str] = field(default_factory=list)
    """Phases in the order they were reported."""

    def tally(self) -> Counter[str]:
        """Expectations by status."""
        return Counter(e.status for e in self.expectations.values())


@dataclass(slots=True, frozen=True)
class ControlRecord:
    """A control request or acknowledgement seen on the bus."""

    at: float
    """When."""
    action: str
    """Action."""
    correlation_id: str
    """Correlation id."""
    target: str
    """``component/instance`` addressed (request) or answering (ack)."""
    ok: bool | None
    """None for a request; the ack's verdict otherwise."""
    detail: str | None
    """Ack detail, or who requested."""


@dataclass(slots=True, frozen=True)
class LatencyRow:
    """One latency series for the overview."""

    series: str
    """Series name (with the instance when several publish it)."""
    count: int
    """Samples."""
    p50_ms: float
    """Median."""
    p95_ms: float
    """95th percentile."""
    p99_ms: float
    """99th percentile."""
    max_ms: float
    """Largest."""
    origin: str
    """``metrics`` (interval), ``metrics total`` or ``events``."""


def harness_key(key: str) -> str:
    """The caller's key inside a simulator message key, so both sides' keys compare equal.

    The simulator names a message ``k:<key>`` (or ``k:<key>#<n>`` for the n-th identical
    submission) when the harness gave it a key; the gateway publishes the bare ``<key>``.

    Args:
        key: A message key from either side.

    Returns:
        The key without the ``k:`` prefix and ``#<n>`` suffix (other keys unchanged).
    """
    if key.startswith("k:"):
        key = key[2:]
        head, sep, tail = key.rpartition("#")
        if sep and tail.isdigit():
            key = head
    return key


def _bounded_put(mapping: OrderedDict[str, str], key: str, value: str, limit: int) -> None:
    mapping[key] = value
    if len(mapping) > limit:
        mapping.popitem(last=False)


class OpsState:
    """Folds bus events into what the operator screens show. See the module docstring."""

    def __init__(self, *, max_messages: int = MAX_MESSAGES) -> None:
        """Create an empty picture.

        Args:
            max_messages: How many messages to keep.
        """
        self.max_messages = max_messages
        """How many messages are kept."""
        self.version = 0
        """Bumped by every applied event; views compare it to skip work."""
        self.events_seen = 0
        """Events applied."""
        self.kinds: Counter[str] = Counter()
        """Events applied, by kind."""
        self.sources: dict[Source, float] = {}
        """Publishers seen, with the `at` of their latest event."""
        self.binds: dict[BindKey, BindView] = {}
        """Sessions by key."""
        self.messages: OrderedDict[str, MessageRecord] = OrderedDict()
        """The last `max_messages` messages, oldest first seen first."""
        self.messages_evicted = 0
        """Messages let go to stay within the bound."""
        self.status_counts: Counter[str] = Counter()
        """Live records by status."""
        self.final_counts: Counter[str] = Counter()
        """Every `MessageFinal` seen, by state (not bounded by eviction)."""
        self.alerts: deque[AlertView] = deque(maxlen=MAX_ALERTS)
        """Newest last."""
        self.alert_counts: Counter[str] = Counter()
        """Every alert seen, by kind."""
        self.alerts_total = 0
        """Alerts seen."""
        self.alerts_acknowledged = 0
        """`alerts_total` when the operator last acknowledged the alerts."""
        self.throttled = 0
        """Throttled events seen."""
        self.faults: dict[str, FaultView] = {}
        """Active faults by id."""
        self.snapshots: dict[Source, MetricsSnapshot] = {}
        """Latest metrics per publisher."""
        self.snapshot_gaps: Counter[Source] = Counter()
        """Snapshots missed per publisher (gaps in `seq`)."""
        self.handsets: OrderedDict[str, Handset] = OrderedDict()
        """Handsets, least recently active first."""
        self.scenario: ScenarioView | None = None
        """The latest scenario run."""
        self.campaigns: OrderedDict[str, CampaignView] = OrderedDict()
        """Campaigns by id, least recently updated first (at most `MAX_CAMPAIGNS`)."""
        self.handset_deliveries = 0
        """`HandsetDelivered` events seen."""
        self.handset_deliveries_matched = 0
        """Of those, the ones matched to a line already shown (a message seen being sent)."""
        self.controls: deque[ControlRecord] = deque(maxlen=MAX_CONTROLS)
        """Control traffic seen, newest last."""
        self.unmatched_receipts = 0
        """Receipts the gateway could not match to a message."""
        self.throughput: dict[str, RateSeries] = {
            name: RateSeries() for name in ("accepted", "submitted", "receipts", "final", "mo")
        }
        """Whole-system rates per second of the viewer's clock."""
        self._receipts_gw: Counter[str] = Counter()
        self._receipts_sim: Counter[str] = Counter()
        self._errors_gw: Counter[str] = Counter()
        self._errors_sim: Counter[str] = Counter()
        self._latency: dict[str, LogHistogram] = {
            "submit→resp": LogHistogram(),
            "accept→final": LogHistogram(),
        }
        self._smsc_to_message: OrderedDict[str, str] = OrderedDict()
        self._pending_smsc: OrderedDict[str, list[tuple[str, Event]]] = OrderedDict()
        self._sim_entries: OrderedDict[str, tuple[str, HandsetEntry]] = OrderedDict()
        self._recent_mo: deque[tuple[str, HandsetEntry]] = deque(maxlen=256)
        self._key_to_message: OrderedDict[str, str] = OrderedDict()
        self._topics: dict[str, TopicParts | None] = {}
        self._handlers: dict[str, Callable[[str, TopicParts, Event, float], None]] = {
            "bind_state_changed": self._bind_state_changed,
            "throttled": self._throttled,
            "message_accepted": self._message_accepted,
            "part_submitted": self._part_submitted,
            "submit_responded": self._submit_responded,
            "receipt_received": self._receipt_received,
            "submit_received": self._submit_received,
            "receipt_sent": self._receipt_sent,
            "message_final": self._message_final,
            "mo_received": self._mo_received,
            "mo_sent": self._mo_sent,
            "fault_injected": self._fault_injected,
            "fault_cleared": self._fault_cleared,
            "alert": self._alert,
            "handset_delivered": self._handset_delivered,
            "campaign_progress": self._campaign_progress,
            "metrics_snapshot": self._metrics_snapshot,
            "scenario_progress": self._scenario_progress,
            "control": self._control,
            "control_acknowledged": self._control_acknowledged,
        }

    # -- applying events --------------------------------------------------------------------------

    def apply(self, topic: str, event: Event, now: float) -> None:
        """Fold one event into the picture.

        Args:
            topic: The topic it arrived on (names the publisher).
            event: The event.
            now: The viewer's clock (for rate buckets only).
        """
        parts = self._topic(topic)
        self.version += 1
        self.events_seen += 1
        self.kinds[event.kind] += 1
        if parts is None:
            return
        if not parts.control:
            self.sources[(parts.component, parts.instance)] = event.at
        handler = self._handlers.get(event.kind)
        if handler is not None:
            handler(topic, parts, event, now)

    def apply_many(self, items: Iterable[tuple[str, Event]], now: float) -> int:
        """Fold a batch of events.

        Args:
            items: ``(topic, event)`` pairs in arrival order.
            now: The viewer's clock.

        Returns:
            How many were applied.
        """
        count = 0
        for topic, event in items:
            self.apply(topic, event, now)
            count += 1
        return count

    def _topic(self, topic: str) -> TopicParts | None:
        try:
            return self._topics[topic]
        except KeyError:
            pass
        try:
            parts: TopicParts | None = parse_topic(topic)
        except TopicError:
            parts = None
        if len(self._topics) >= 4096:
            self._topics.clear()
        self._topics[topic] = parts
        return parts

    # -- sessions ---------------------------------------------------------------------------------

    def _bind(self, component: str, instance: str, bind_id: str) -> BindView:
        key = (component, instance, bind_id)
        bind = self.binds.get(key)
        if bind is None:
            bind = self.binds[key] = BindView(component, instance, bind_id)
        return bind

    def _bind_state_changed(self, topic: str, parts: TopicParts, e: Event, now: float) -> None:
        assert isinstance(e, BindStateChanged)
        bind = self._bind(e.component, e.instance, e.bind_id)
        bind.state = e.state
        bind.mode = e.mode
        bind.system_id = e.system_id or bind.system_id
        bind.peer = e.peer
        bind.paused = e.paused
        bind.reason = e.reason
        bind.since = e.at

    def _throttled(self, topic: str, parts: TopicParts, e: Event, now: float) -> None:
        assert isinstance(e, Throttled)
        self.throttled += 1
        self._bind(parts.component, parts.instance, e.bind_id).throttles += 1
        if e.message_id is not None:
            self._step(e.message_id, topic, e)

    # -- MT life cycle (gateway) ------------------------------------------------------------------

    def _record(self, message_id: str, at: float) -> MessageRecord:
        record = self.messages.get(message_id)
        if record is None:
            record = MessageRecord(message_id=message_id, first_seen=at)
            self.messages[message_id] = record
            self.status_counts[record.status] += 1
            if len(self.messages) > self.max_messages:
                _, old = self.messages.popitem(last=False)
                self.status_counts[old.status] -= 1
                self.messages_evicted += 1
        return record

    def _step(self, message_id: str, topic: str, e: Event) -> MessageRecord:
        record = self._record(message_id, e.at)
        record.steps.append((topic, e))
        if len(record.steps) > MAX_STEPS:
            del record.steps[0]
            record.steps_dropped += 1
        record.updated = max(record.updated, e.at)
        record.version = self.version
        return record

    def _set_status(self, record: MessageRecord, status: str) -> None:
        if record.status == status:
            return
        self.status_counts[record.status] -= 1
        self.status_counts[status] += 1
        record.status = status
        record.version = self.version
        if record.entry is not None:
            record.entry.status = status

    def _message_accepted(self, topic: str, parts: TopicParts, e: Event, now: float) -> None:
        assert isinstance(e, MessageAccepted)
        record = self._step(e.message_id, topic, e)
        record.message_key = e.message_key
        record.source = e.source
        record.destination = e.destination
        record.parts = e.parts
        record.encoding = str(e.encoding)
        record.campaign_id = e.campaign_id
        record.scheduled_for = e.scheduled_for
        if e.message_key:
            _bounded_put(self._key_to_message, harness_key(e.message_key), e.message_id, _MAX_KEYS)
        if record.status == SEEN:
            self._set_status(record, SCHEDULED if e.scheduled_for is not None else QUEUED)
        self.throughput["accepted"].add(now)
        if record.entry is None:
            encoding = str(e.encoding).upper()
            desc = f"{e.parts}-part {encoding} message" if e.parts > 1 else f"{encoding} message"
            entry = HandsetEntry(
                at=e.at,
                direction="in",
                peer=e.source or "?",
                text=desc,
                status=record.status,
                message_id=e.message_id,
                message_key=e.message_key,
            )
            record.entry = entry
            self._handset(e.destination).add(entry)

    def _part_submitted(self, topic: str, parts: TopicParts, e: Event, now: float) -> None:
        assert isinstance(e, PartSubmitted)
        record = self._step(e.message_id, topic, e)
        record.attempts += 1
        record.bind_id = e.bind_id
        record.parts = max(record.parts, e.parts)
        if record.final is None:
            self._set_status(record, IN_FLIGHT)
        bind = self._bind(parts.component, parts.instance, e.bind_id)
        bind.submits += 1
        bind.rate.add(now)
        self.throughput["submitted"].add(now)

    def _submit_responded(self, topic: str, parts: TopicParts, e: Event, now: float) -> None:
        assert isinstance(e, SubmitResponded)
        record = self._step(e.message_id, topic, e)
        self._latency["submit→resp"].record(e.latency_ms)
        if e.smsc_message_id:
            self._link(e.smsc_message_id, record)
        if e.command_status == 0:
            record.parts_ok.add(e.part)
            if record.final is None and len(record.parts_ok) >= record.parts:
                self._set_status(record, AWAITING_RECEIPT)
            return
        record.last_status = e.command_status
        self._errors_gw[f"0x{e.command_status:08X}"] += 1
        self._bind(parts.component, parts.instance, e.bind_id).errors += 1
        if record.final is None:
            self._set_status(record, RETRYING)

    def _receipt_received(self, topic: str, parts: TopicParts, e: Event, now: float) -> None:
        assert isinstance(e, ReceiptReceived)
        self._receipts_gw[e.stat] += 1
        self.throughput["receipts"].add(now)
        if e.message_id is None:
            self.unmatched_receipts += 1
            return
        record = self._step(e.message_id, topic, e)
        record.receipts[e.part or 0] = e.stat
        self._link(e.smsc_message_id, record)

    def _message_final(self, topic: str, parts: TopicParts, e: Event, now: float) -> None:
        assert isinstance(e, MessageFinal)
        record = self._step(e.message_id, topic, e)
        record.final = e.state
        record.reason = e.reason
        record.elapsed_ms = e.elapsed_ms
        record.attempts = max(record.attempts, e.attempts)
        if e.message_key:
            record.message_key = e.message_key
        self._set_status(record, e.state)
        self.final_counts[e.state] += 1
        self.throughput["final"].add(now)
        if e.elapsed_ms is not None:
            self._latency["accept→final"].record(e.elapsed_ms)

    # -- the simulator's side of the same messages ------------------------------------------------

    def _link(self, smsc_id: str, record: MessageRecord) -> None:
        """Tie an SMSC message id to a gateway message, and replay what waited for the link."""
        if smsc_id in self._smsc_to_message:
            return
        _bounded_put(self._smsc_to_message, smsc_id, record.message_id, _MAX_SMSC_LINKS)
        record.smsc_ids.append(smsc_id)
        for topic, event in self._pending_smsc.pop(smsc_id, ()):
            self._step(record.message_id, topic, event)
        sim = self._sim_entries.pop(smsc_id, None)
        if sim is not None and record.entry is not None:
            number, entry = sim
            if entry.delivered and not record.entry.delivered:
                # the delivery reached the simulator's line first: keep it, drop the placeholder
                owner = self.handsets.get(record.destination)
                if owner is not None:
                    owner.discard(record.entry)
                    if not owner.threads and record.destination != number:
                        del self.handsets[record.destination]
                entry.message_id = record.message_id
                entry.status = record.status
                record.entry = entry
            else:
                handset = self.handsets.get(number)
                if handset is not None:
                    handset.discard(entry)

    def _smsc_fact(self, smsc_id: str | None, message_id: str | None, topic: str, e: Event) -> None:
        """Attach a simulator-side fact to its gateway message, or keep it until linked."""
        if message_id is None and smsc_id is not None:
            message_id = self._smsc_to_message.get(smsc_id)
        if message_id is not None and message_id in self.messages:
            record = self._step(message_id, topic, e)
            if smsc_id is not None:
                self._link(smsc_id, record)
            return
        if smsc_id is None:
            return
        pending = self._pending_smsc.get(smsc_id)
        if pending is None:
            pending = self._pending_smsc[smsc_id] = []
            if len(self._pending_smsc) > _MAX_PENDING_SMSC:
                self._pending_smsc.popitem(last=False)
        if len(pending) < MAX_STEPS:
            pending.append((topic, e))

    def _submit_received(self, topic: str, parts: TopicParts, e: Event, now: float) -> None:
        assert isinstance(e, SubmitReceived)
        bind = self._bind(parts.component, parts.instance, e.bind_id)
        bind.submits += 1
        bind.rate.add(now)
        if e.command_status != 0:
            bind.errors += 1
            self._errors_sim[f"0x{e.command_status:08X}"] += 1
        linked = e.smsc_message_id is not None and e.smsc_message_id in self._smsc_to_message
        self._smsc_fact(e.smsc_message_id, None, topic, e)
        if (
            linked
            or e.smsc_message_id is None
            or (e.part or 1) != 1
            or not e.destination
            or e.smsc_message_id in self._sim_entries
        ):
            return
        entry = HandsetEntry(
            at=e.at,
            direction="in",
            peer=e.source or "?",
            text=f"{e.parts}-part message" if (e.parts or 1) > 1 else "message",
            status="at SMSC",
            smsc_message_id=e.smsc_message_id,
        )
        self._handset(e.destination).add(entry)
        self._sim_entries[e.smsc_message_id] = (e.destination, entry)
        if len(self._sim_entries) > _MAX_PENDING_SMSC:
            self._sim_entries.popitem(last=False)

    def _receipt_sent(self, topic: str, parts: TopicParts, e: Event, now: float) -> None:
        assert isinstance(e, ReceiptSent)
        self._receipts_sim[e.stat] += 1
        self._smsc_fact(e.smsc_message_id, e.message_id, topic, e)
        sim = self._sim_entries.get(e.smsc_message_id)
        if sim is not None:
            sim[1].status = e.stat

    # -- MO ---------------------------------------------------------------------------------------

    def _mo_received(self, topic: str, parts: TopicParts, e: Event, now: float) -> None:
        assert isinstance(e, MoReceived)
        self.throughput["mo"].add(now)
        match = self._match_mo(e.source, e.destination, e.text, e.at)
        record: MessageRecord | None = None
        if e.message_id is not None:
            record = self._step(e.message_id, topic, e)
            record.direction = "mo"
            record.source = e.source
            record.destination = e.destination
            record.parts = e.parts
            record.encoding = str(e.encoding)
            record.text = e.text
            record.bind_id = e.bind_id
            self._set_status(record, RECEIVED)
        if match is not None:
            match.status = RECEIVED
            match.message_id = e.message_id
            entry = match
        else:
            entry = HandsetEntry(
                at=e.at,
                direction="out",
                peer=e.destination,
                text=e.text,
                status=RECEIVED,
                message_id=e.message_id,
            )
            self._handset(e.source).add(entry)
        if record is not None:
            record.entry = entry

    def _mo_sent(self, topic: str, parts: TopicParts, e: Event, now: float) -> None:
        assert isinstance(e, MoSent)
        entry = HandsetEntry(
            at=e.at, direction="out", peer=e.destination, text=e.text, status="sent"
        )
        self._handset(e.source).add(entry)
        self._recent_mo.append((e.source, entry))

    def _match_mo(self, source: str, destination: str, text: str, at: float) -> HandsetEntry | None:
        """The simulator's MoSent entry for an MO the gateway received, if there is one."""
        for number, entry in reversed(self._recent_mo):
            if (
                number == source
                and entry.peer == destination
                and entry.text == text
                and entry.status != RECEIVED
                and abs(entry.at - at) <= _MO_MATCH_S
            ):
                return entry
        return None

    # -- handsets ---------------------------------------------------------------------------------

    def _handset(self, number: str) -> Handset:
        handset = self.handsets.get(number)
        if handset is None:
            handset = self.handsets[number] = Handset(number)
            if len(self.handsets) > MAX_HANDSETS:
                self.handsets.popitem(last=False)
        else:
            self.handsets.move_to_end(number)
        return handset

    # -- faults, alerts, metrics, scenario, controls ----------------------------------------------

    def _fault_injected(self, topic: str, parts: TopicParts, e: Event, now: float) -> None:
        assert isinstance(e, FaultInjected)
        params = ", ".join(f"{k}={v}" for k, v in e.params.items())
        self.faults[e.fault_id] = FaultView(
            fault_id=e.fault_id,
            fault_kind=e.fault_kind,
            target=e.target,
            at=e.at,
            until=e.until,
            source=(parts.component, parts.instance),
            params=params,
        )

    def _fault_cleared(self, topic: str, parts: TopicParts, e: Event, now: float) -> None:
        assert isinstance(e, FaultCleared)
        self.faults.pop(e.fault_id, None)

    def _alert(self, topic: str, parts: TopicParts, e: Event, now: float) -> None:
        assert isinstance(e, Alert)
        self.alerts.append(
            AlertView(
                at=e.at,
                alert_kind=e.alert_kind,
                severity=e.severity,
                detail=e.detail,
                destination=e.destination,
                message_id=e.message_id,
                message_key=e.message_key,
                source=(parts.component, parts.instance),
                sender=e.sender,
            )
        )
        self.alert_counts[e.alert_kind] += 1
        self.alerts_total += 1
        record = self._alerted_record(e.message_id) or self._record_by_key(e.message_key)
        if record is not None:
            self._step(record.message_id, topic, e)
        entry = record.entry if record is not None else None
        if entry is None and e.message_id is not None:
            sim = self._sim_entries.get(e.message_id)
            entry = sim[1] if sim is not None else None
        if entry is not None and e.alert_kind not in entry.flags:
            entry.flags.append(e.alert_kind)
        if e.destination:
            peer = entry.peer if entry is not None else e.sender or ALERTS_THREAD
            self._handset(e.destination).add(
                HandsetEntry(
                    at=e.at,
                    direction="alert",
                    peer=peer,
                    text=f"{e.alert_kind.replace('_', ' ')}: {e.detail}".rstrip(": "),
                    status=e.severity,
                    message_id=e.message_id,
                    flags=[e.alert_kind],
                )
            )

    def _handset_delivered(self, topic: str, parts: TopicParts, e: Event, now: float) -> None:
        assert isinstance(e, HandsetDelivered)
        self.handset_deliveries += 1
        handset = self._handset(e.destination)
        record = self._record_by_key(e.message_key)
        entry = self._undelivered_entry(handset, e, record)
        if entry is not None:
            self.handset_deliveries_matched += 1
            if record is None and entry.message_id is not None:
                record = self.messages.get(entry.message_id)
            for number in (record.destination if record is not None else "", e.destination):
                other = self.handsets.get(number) if number else None
                if other is not None and other is not handset:
                    other.discard(entry)  # the gateway wrote the number another way
                    if not other.threads:
                        del self.handsets[number]
            if entry.peer != e.sender:
                entry.sent_as = entry.peer
            handset.rethread(entry, e.sender, e.at)
        else:
            entry = HandsetEntry(
                at=e.at, direction="in", peer=e.sender, text=e.text, status="delivered"
            )
            handset.add(entry)
        entry.text = e.text
        entry.delivered = True
        entry.parts = e.parts
        entry.message_key = e.message_key or entry.message_key
        if record is None:
            entry.status = "delivered"  # the handset has it; no gateway record to follow
        flags = (e.spoofed, e.relabelled, e.misdelivered, e.in_quiet_hours)
        for flag, on in zip(HANDSET_FLAGS, flags, strict=True):
            if on and flag not in entry.flags:
                entry.flags.append(flag)
        if any(flags):
            handset.flagged += 1
        handset.thread_sizes[e.sender] = e.thread_size
        if record is not None:
            self._step(record.message_id, topic, e)

    def _record_by_key(self, message_key: str | None) -> MessageRecord | None:
        if not message_key:
            return None
        message_id = self._key_to_message.get(harness_key(message_key))
        return self.messages.get(message_id) if message_id is not None else None

    @staticmethod
    def _undelivered_entry(
        handset: Handset, e: HandsetDelivered, record: MessageRecord | None
    ) -> HandsetEntry | None:
        """The line shown for this delivery before it landed, if there is one."""
        if record is not None and record.entry is not None and not record.entry.delivered:
            return record.entry
        if e.spoofed:
            return None  # an attacker's message was never one of ours
        thread = handset.threads.get(e.sender)
        if thread is None:
            return None
        key = e.message_key
        # a derived key (user_message_reference, content hash) never names a caller's key
        key = harness_key(key) if key and key[:2] not in _DERIVED_KEY_PREFIXES else None
        for entry in thread:
            if (
                entry.direction == "in"
                and not entry.delivered
                and (
                    key is None
                    or entry.message_key is None
                    or harness_key(entry.message_key) == key
                )
            ):
                return entry
        return None

    def _campaign_progress(self, topic: str, parts: TopicParts, e: Event, now: float) -> None:
        assert isinstance(e, CampaignProgress)
        view = self.campaigns.get(e.campaign_id)
        if view is None:
            self.campaigns[e.campaign_id] = CampaignView(e, (parts.component, parts.instance), e.at)
            if len(self.campaigns) > MAX_CAMPAIGNS:
                self.campaigns.popitem(last=False)
            return
        view.updates += 1
        view.first_at = min(view.first_at, e.at)
        if e.at >= view.progress.at:  # a late, older progress does not roll the figures back
            view.progress = e
            view.source = (parts.component, parts.instance)
            self.campaigns.move_to_end(e.campaign_id)

    def _alerted_record(self, message_id: str | None) -> MessageRecord | None:
        if message_id is None:
            return None
        record = self.messages.get(message_id)
        if record is None:
            linked = self._smsc_to_message.get(message_id)
            record = self.messages.get(linked) if linked is not None else None
        return record

    def _metrics_snapshot(self, topic: str, parts: TopicParts, e: Event, now: float) -> None:
        assert isinstance(e, MetricsSnapshot)
        source = (parts.component, parts.instance)
        previous = self.snapshots.get(source)
        if previous is not None and e.seq > previous.seq + 1:
            self.snapshot_gaps[source] += e.seq - previous.seq - 1
        self.snapshots[source] = e
        for bind_id, window in e.windows.items():
            bind = self._bind(parts.component, parts.instance, bind_id)
            bind.window_in_flight = window.in_flight
            bind.window_size = window.size
        for bind_id, counts in e.bind_counts.items():
            bind = self._bind(parts.component, parts.instance, bind_id)
            bind.metric_submits = counts.get(BIND_SUBMITTED, 0)
            bind.metric_rates.append(e.bind_rates.get(bind_id, {}).get(BIND_SUBMITTED, 0.0))

    def _scenario_progress(self, topic: str, parts: TopicParts, e: Event, now: float) -> None:
        assert isinstance(e, ScenarioProgress)
        view = self.scenario
        if view is None or view.run_id != e.run_id:
            view = self.scenario = ScenarioView(
                run_id=e.run_id,
                scenario=e.scenario,
                phase=e.phase,
                elapsed_s=e.elapsed_s,
                progress=e.progress,
                at=e.at,
            )
        view.phase = e.phase
        view.elapsed_s = e.elapsed_s
        view.progress = e.progress if e.progress is not None else view.progress
        view.at = e.at
        if not view.phases_seen or view.phases_seen[-1] != e.phase:
            view.phases_seen.append(e.phase)
        for exp in e.expectations:
            known = view.expectations.get(exp.name)
            if known is None:
                view.expectations[exp.name] = ExpectationView(
                    exp.name, exp.status, exp.detail, e.at
                )
            else:
                if known.status != exp.status:
                    known.changed_at = e.at
                known.status = exp.status
                known.detail = exp.detail

    def _control(self, topic: str, parts: TopicParts, e: Event, now: float) -> None:
        assert isinstance(e, Control)
        self.controls.append(
            ControlRecord(
                at=e.at,
                action=e.action,
                correlation_id=e.correlation_id,
                target=f"{parts.component}/{parts.instance}",
                ok=None,
                detail=e.requested_by,
            )
        )

    def _control_acknowledged(self, topic: str, parts: TopicParts, e: Event, now: float) -> None:
        assert isinstance(e, ControlAcknowledged)
        self.controls.append(
            ControlRecord(
                at=e.at,
                action=e.action,
                correlation_id=e.correlation_id,
                target=f"{e.component}/{e.instance}",
                ok=e.ok,
                detail=e.detail,
            )
        )

    # -- queries ----------------------------------------------------------------------------------

    def bind_list(self) -> list[BindView]:
        """Sessions in a stable order: gateway first, then by instance and id."""
        return sorted(
            self.binds.values(),
            key=lambda b: (b.component != "gateway", b.component, b.instance, b.bind_id),
        )

    def instances(self, component: str) -> list[str]:
        """Instances of a component that published events, sorted."""
        return sorted(inst for comp, inst in self.sources if comp == component)

    def _snapshots_of(self, component: str | None) -> list[MetricsSnapshot]:
        return [
            snap
            for (comp, _inst), snap in sorted(self.snapshots.items())
            if component is None or comp == component
        ]

    def queue_depths(self) -> tuple[QueueDepths, str]:
        """Pipeline depths, summed over gateway instances.

        Returns:
            The depths and their origin: ``metrics`` (the gateways' snapshots) or ``events``
            (counted from the message statuses this viewer saw).
        """
        snaps = self._snapshots_of("gateway") or self._snapshots_of(None)
        if snaps:
            return (
                QueueDepths(
                    queued=sum(s.queues.queued for s in snaps),
                    in_flight=sum(s.queues.in_flight for s in snaps),
                    awaiting_receipt=sum(s.queues.awaiting_receipt for s in snaps),
                    retrying=sum(s.queues.retrying for s in snaps),
                    scheduled=sum(s.queues.scheduled for s in snaps),
                ),
                "metrics",
            )
        counts = self.status_counts
        return (
            QueueDepths(
                queued=max(0, counts[QUEUED]),
                in_flight=max(0, counts[IN_FLIGHT]),
                awaiting_receipt=max(0, counts[AWAITING_RECEIPT]),
                retrying=max(0, counts[RETRYING]),
                scheduled=max(0, counts[SCHEDULED]),
            ),
            "events",
        )

    def _preferred(
        self,
        pick: Callable[[MetricsSnapshot], dict[str, int]],
        gateway_events: Counter[str],
        simulator_events: Counter[str],
    ) -> tuple[list[tuple[str, int]], str]:
        candidates: list[tuple[list[dict[str, int]], str]] = [
            ([pick(s) for s in self._snapshots_of("gateway")], "metrics"),
            ([dict(gateway_events)], "events"),
            ([pick(s) for s in self._snapshots_of(None)], "metrics"),
            ([dict(simulator_events)], "simulator events"),
        ]
        for maps, origin in candidates:
            total: Counter[str] = Counter()
            for mapping in maps:
                total.update(mapping)
            if total:
                return sorted(total.items(), key=lambda kv: (-kv[1], kv[0])), origin
        return [], "none"

    def receipt_mix(self) -> tuple[list[tuple[str, int]], str]:
        """Receipts by `stat`, most frequent first, with their origin."""
        return self._preferred(lambda s: s.receipts, self._receipts_gw, self._receipts_sim)

    def error_counts(self) -> tuple[list[tuple[str, int]], str]:
        """Errors by code (``0x00000058``) or name, most frequent first, with their origin."""
        return self._preferred(lambda s: s.errors, self._errors_gw, self._errors_sim)

    def latency_rows(self) -> list[LatencyRow]:
        """Latency percentiles: the latest interval of each published series, else from events."""
        rows: list[LatencyRow] = []
        several = len(self.snapshots) > 1
        for (_comp, inst), snap in sorted(self.snapshots.items()):
            for series in sorted(set(snap.latency) | set(snap.latency_total)):
                summary = snap.latency.get(series)
                origin = "metrics"
                if summary is None or summary.count == 0:
                    summary = snap.latency_total.get(series)
                    origin = "metrics total"
                if summary is None or summary.count == 0:
                    continue
                rows.append(
                    LatencyRow(
                        series=f"{inst}:{series}" if several else series,
                        count=summary.count,
                        p50_ms=summary.p50_ms,
                        p95_ms=summary.p95_ms,
                        p99_ms=summary.p99_ms,
                        max_ms=summary.max_ms,
                        origin=origin,
                    )
                )
        if rows:
            return rows
        for series, hist in self._latency.items():
            if hist.count:
                rows.append(
                    LatencyRow(
                        series=series,
                        count=hist.count,
                        p50_ms=hist.quantile(0.5),
                        p95_ms=hist.quantile(0.95),
                        p99_ms=hist.quantile(0.99),
                        max_ms=hist.max,
                        origin="events",
                    )
                )
        return rows

    @property
    def unacknowledged_alerts(self) -> int:
        """Alerts that arrived since the operator last acknowledged them."""
        return self.alerts_total - self.alerts_acknowledged

    def acknowledge_alerts(self) -> None:
        """Mark every alert so far as seen by the operator."""
        self.alerts_acknowledged = self.alerts_total
        self.version += 1

    def find_messages(self, query: str = "", limit: int = 500) -> list[MessageRecord]:
        """Messages matching every word of a query, newest first.

        Args:
            query: Words to find (case-insensitive) in id, key, numbers, status, campaign, bind,
                direction, MO text or SMSC ids; empty matches everything.
            limit: At most this many.

        Returns:
            The matches, newest first seen first.
        """
        words = query.lower().split()
        found: list[MessageRecord] = []
        for record in reversed(self.messages.values()):
            if words:
                text = record.search_text()
                if not all(word in text for word in words):
                    continue
            found.append(record)
            if len(found) >= limit:
                break
        return found

    def handset_list(self) -> list[Handset]:
        """Handsets, most recently active first."""
        return list(reversed(self.handsets.values()))

    def campaign_list(self) -> list[CampaignView]:
        """Campaigns, newest first (by their first progress), then by id."""
        return sorted(self.campaigns.values(), key=lambda c: (-c.first_at, c.progress.campaign_id))

    def other_alerts(self) -> int:
        """Alerts seen whose kind is not one of `KEY_ALERT_KINDS`."""
        return self.alerts_total - sum(self.alert_counts[kind] for kind in KEY_ALERT_KINDS)
