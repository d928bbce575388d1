"""`CarrierNetwork`: the pure carrier model behind the simulated SMSC.

The server calls it with each submit_sm (as a `SubmittedMessage`) and pulls due effects:

    outcome = network.submit(msg, now)      # answer the submit_sm from `outcome`
    for effect in network.advance(now):     # receipts, MO parts, events, in time order
        ...
    when = network.next_due()               # re-arm one timer (aioquic's get_timer)

(the server's adapter first offers an ordinary single message's fields to `submit_single`,
which answers its id when it takes it, and None when the message needs `submit`),

plus the owner check (`owner_check`, `owner_check_many`), handset views (`handset`) and the
session-fault hooks (`session_decision`, `next_session_deadline`).

Theory of operation. `submit` first answers flow control and submit-phase faults (these depend on
arrival, like any real SMSC's), then the sender rules. An accepted part gets its key (see
`simulator.network.fate`), an id from the arrival-order counter, and a `Fate` computed from its
key's streams only: the subscriber (population, ownership at submission, filters), the outcome
mix of its route / carrier / prefix, the latency, absence and the carrier's retry schedule, and
the receipt knobs. Receipts, final events and the handset delivery are pushed on one heap;
`advance` pops what is due, files delivered parts in the handsets (through one
`sms.segments.Reassembler`), audits quiet hours, misdelivery and spoofed threads, and schedules
replies.

Carrier outages come from the live `fault_plan` (an operator may add or remove one at run time)
and are decided when a delivery is attempted, not at submission: a delivery's final receipt (and
its duplicate, loss event and queue release) waits in the delivery's `follow` list and is pushed
only when the handset gets the part. An attempt inside an outage window either fails (the
receipts are rebuilt as UNDELIV with the outage's error) or is parked on the outage; when the
window ends (a heap item at its end) or the fault leaves the plan (noticed by the next `advance`,
whose `now` is the release instant), each parked delivery is attempted again one first-attempt
latency later, with receipts rebuilt for the new time. Outcomes are thus a function of the
message key and the fault timeline (what was in the plan when), never of arrival order or of how
often `advance` is called.

alert_notification (SMPP 3.4 §4.12): a submit carrying set_dpf whose delivery found the handset
absent (`Fate.attempts_after_s` non-empty, `Fate.available_after_s` known: the end of its off /
storage-full window, or the drawn return of a temporarily absent handset) schedules one
`AlertDue` at that return, once per (account, subscriber, ESME address, instant).

Invariants:
    * Rule 1: every decision about a message's fate lives in `_fate`; everything it reads is a
      function of (seed, scenario id, message key, configuration, submission time for explicit
      time windows). Arrival order decides only ids, throttling and fault answers. The one
      later amendment is a carrier outage at the delivery attempt (`_attempt`), a function of
      the attempt's instant and the fault timeline.
    * A parked delivery is held by exactly one outage entry (`_parked`), and is released once.
    * Rule 2: the model never sleeps, reads a clock or does I/O; `now` is an argument and must
      not go backwards between calls to `advance`.
    * `advance(now)` returns effects with `at <= now` in (`at`, scheduling) order, each once.
    * The hot path (`submit_single` / `submit` of an ordinary message) touches no pydantic
      model: the configuration is compiled in `__init__`.
    * With `events` False (nobody listens: a server without a bus) no `NetworkEvent` is built,
      scheduled or returned; fates, ids, receipts, MO replies and handsets are the same as with
      events on (only the audit facts are not written).
    * Shortcuts (on unless `shortcuts=False`, which a property test compares against): with
      events off and no fault in the plan, a single message that will be delivered at the
      first attempt (and has a plain receipt configuration, no queue limit, no set_dpf, no
      route override) is taken by `_take` (`submit_single` for the server's adapter, which
      hands over the fields of a submit_sm without TLVs and gets only the id back; `submit`
      for a `SubmittedMessage`, with its TLV metadata: an intended owner or obtained date
      makes its delivery go the general path, which checks for misdelivery), which checks
      everything before it changes anything and declines
      (the general path follows) otherwise. It reads what is fixed per sender (`_Lane`:
      account, verdict, receipt knobs, the key's metadata) and per destination and route
      (`_Dest`: subscriber, mix thresholds, latency, a tenure window, the thread it filed in
      last) from tables built on first use, and pushes one flat `_Plain` tuple instead of a
      `_Drop`: no `Fate`, `SubmittedMessage` or `SubmitOutcome` is built for the adapter, and
      the receipt is built at the delivery (through the caller's `ReceiptMaker` when
      `advance` is given one, so the adapter's order is the only receipt object). When a
      `_Plain` delivery falls due while events are on or an outage may be in the plan, or
      its sender can be replied to, it becomes the `_Drop` the general path would have
      pushed (`_drop_of`) and is attempted as one; otherwise it is appended to its handset
      thread as a deferred message (`Inbox.deferred_thread`). In the general path the
      fate of an ordinary delivery (handset without windows, not drawn absent) returns before
      the retry bookkeeping; with a plain receipt configuration (`_Receipts.plain`: every part,
      same id, no knob but loss) and no fault in the plan, `_accept` builds the receipt itself;
      a delivery's receipt due at the same instant, with nothing else due then, is returned
      directly instead of through the heap; a single message whose filing nobody reads at
      delivery (events off, no reply possible, no brand, no intended owner or obtained date)
      is filed as its raw fields and decoded when a handset view needs it
      (`Inbox.file_deferred`). Each gives exactly what the general path gives.
    * Per message the adapter's hot path (`submit_single`, `advance` with a `ReceiptMaker`)
      allocates the key strings, one `_Plain` tuple and its heap entry, and at delivery the
      caller's receipt order and the handset's raw tuple; the general path one `_Drop`
      (delivered parts only: the submission, fate, ids and the two stream digests an outage
      or a reply needs; their words are unpacked when read), one `Fate`, the receipts and
      the `SubmitOutcome`. Nothing per message outlives its delivery except what the handset
      keeps; the sender and destination tables are capped (`_META_CACHE`, `_DEST_CACHE`).
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
import struct
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from hashlib import blake2b
from typing import Any, Final, TypeAlias, TypeVar, cast, overload

from simulator.network.config import (
    OUTCOMES,
    AccountConfig,
    NetworkConfig,
    OutcomeMix,
    ReceiptConfig,
)
from simulator.network.distributions import LatencySampler, compile_latency
from simulator.network.effects import (
    ESM_CLASS_INTERMEDIATE,
    ESM_CLASS_RECEIPT,
    AlertDue,
    Effect,
    EventKind,
    Fate,
    MoDue,
    NetworkEvent,
    ReceiptDue,
    SubmitOutcome,
)
from simulator.network.errors import NetworkModelError
from simulator.network.fate import (
    FateSource,
    content_digest,
    digest_after,
    threshold,
    uniform,
    words_of,
)
from simulator.network.faults import (
    CarrierOutageFault,
    FaultPlan,
    Phase,
    SessionDecision,
    next_session_deadline,
    outage_decision,
    receipt_extra_delay,
    session_decision,
    submit_decision,
)
from simulator.network.handsets import (
    DeferredThread,
    HandsetView,
    Inbox,
    InboxMessage,
    flag_text,
)
from simulator.network.messages import SubmittedMessage
from simulator.network.ownership import NumberHistory, OwnerCheckResult, OwnershipDatabase
from simulator.network.population import Population, Subscriber
from simulator.network.quiet import QuietHours
from simulator.network.receipts import ReceiptWriter, damage, format_id, id_formatter
from simulator.network.senders import SenderRules, SenderVerdict
from simulator.network.twoway import TwoWay
from simulator.smpp.constants import CommandStatus, MessageState
from sms.alphabet import decode, encoding_for_data_coding
from sms.errors import SmsError
from sms.segments import FlushReason, Reassembled, Reassembler

__all__ = ["CarrierNetwork", "ReceiptMaker"]

_STATE: Final[dict[str, int]] = {
    "DELIVRD": int(MessageState.DELIVERED),
    "EXPIRED": int(MessageState.EXPIRED),
    "UNDELIV": int(MessageState.UNDELIVERABLE),
    "REJECTD": int(MessageState.REJECTED),
    "UNKNOWN": int(MessageState.UNKNOWN),
    "ENROUTE": int(MessageState.ENROUTE),
}
# Word positions in a message's "msg" stream (shared by all its parts) ...
_M_OUTCOME, _M_ABSENT, _M_RETURN, _M_LATENCY, _M_REPLY = 0, 1, 2, 3, 4  # reply: words 4-7
# ... and in a part's "part" stream. Positions are fixed: a new knob takes a spare word.
_P_LATENCY, _P_RECEIPT_LATENCY, _P_LOSS, _P_DUPLICATE, _P_DUPLICATE_DELAY = 0, 1, 2, 3, 4
_P_LATE, _P_LATE_DELAY, _P_MALFORMED, _P_MALFORMED_VARIANT, _P_BEFORE = 5, 6, 7, 8, 9
_P_FAKE, _P_SLOW, _P_OUTCOME, _P_ABSENT, _P_RETURN = 10, 11, 12, 13, 14
_RD_INTERMEDIATE: Final = 0x10
_DELIVERED: Final[int] = int(MessageState.DELIVERED)
# The leading words of a stream digest (see `simulator.network.fate.words_at`), for the
# shortcut that reads only these: "msg" 0-3 (_M_OUTCOME.._M_LATENCY), "part" 0-2
# (_P_LATENCY, _P_RECEIPT_LATENCY, _P_LOSS).
_FIRST_FOUR: Final = struct.Struct(">4I")
_FIRST_THREE: Final = struct.Struct(">3I")
_NO_FLAGS: Final[frozenset[str]] = frozenset()
_PREVIEW_OCTETS: Final = 44
_PREVIEW_CACHE: Final = 4096
_META_CACHE: Final = 4096
_DEST_CACHE: Final = 100_000
# `uniform(word)` written out on the hot path: (word + 0.5) / 2**32.
_SCALE32: Final[float] = 2.0**-32
_HALF32: Final[float] = 0.5 * 2.0**-32
_YEAR_DAYS: Final = 365.25


# ---------------------------------------------------------------------------------------------
# Compiled configuration
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Carrier:
    offsets: tuple[float, ...]
    max_validity: float
    expire_after_last: bool
    latency: LatencySampler | None


@dataclass(frozen=True, slots=True)
class _Mix:
    cum: tuple[int, ...]
    """Cumulative outcome shares as 32-bit word thresholds, in `OUTCOMES` order."""
    absent_delivered: int
    """Threshold for "the handset was absent first" among delivered messages."""


@dataclass(frozen=True, slots=True)
class _Receipts:
    per_message: bool
    policy: str
    part_scope: bool
    intermediate: bool
    latency: LatencySampler
    id_base: str | None
    loss: int
    duplicate: int
    duplicate_delay: LatencySampler
    late: int
    late_delay: LatencySampler
    before: int
    malformed: int
    fake: int
    plain: bool
    """Every part gets its receipt (or loses it), with the response's id and no other knob:
    the shortcut in `_accept` may build it."""


@dataclass(frozen=True, slots=True)
class _Account:
    name: str
    cfg: AccountConfig
    route: str
    receipts: _Receipts
    max_tps: int | None
    max_queue: int | None


@dataclass(slots=True)
class _Drop:
    """A part on its way to the handset, with the submission behind it (one object per
    delivered part; what the receipts are rebuilt from when a carrier outage moves or fails the
    delivery)."""

    at: float
    """When the handset gets it (epoch seconds; moved by a carrier outage)."""
    key: str
    account: str
    number: str
    """The recipient's national number."""
    msg: SubmittedMessage
    verdict: SenderVerdict
    msg_digest: bytes
    """The digest of the message's "msg" stream (`words`)."""
    subscriber: Subscriber
    """The recipient."""
    submitted_at: float
    acct: _Account
    route: str
    fate: Fate
    id_number: int
    """The id number of `message_id` (receipts may write it in another base)."""
    message_id: str
    part_digest: bytes
    """The digest of the part's "part" stream (`part_words`)."""
    validity_s: float
    """The message expires this long after submission while an outage holds it."""
    retried: tuple[float, ...] = ()
    """Attempts (seconds after submission) that carrier outages failed so far."""
    parked: bool = False
    """True while a carrier outage holds it."""
    follow: list[tuple[float, _Item]] = field(default_factory=list)
    """Items due at or after the delivery (final receipt, its duplicate or loss event, the
    queue release): scheduled only when the delivery happens, so an outage can replace them."""

    @property
    def words(self) -> tuple[int, ...]:
        """The message's "msg" stream; words 4-7 decide the reply."""
        return words_of(self.msg_digest)

    @property
    def part_words(self) -> tuple[int, ...]:
        """The part's "part" stream (what its receipts are rebuilt from)."""
        return words_of(self.part_digest)


@dataclass(slots=True, eq=False)
class _Dest:
    """A destination_addr as received on one route, with what the plain path reads of its
    subscriber (only for a subscriber the plain path can take on that route)."""

    addr: str
    national: str
    head: bytes
    """The key's destination field (the national form), encoded."""
    sub: Subscriber
    delivered: int
    """The route's outcome mix for it: "delivered" exactly below this "msg" word."""
    absent: int
    """... and absent first below this one."""
    latency: LatencySampler
    """The first attempt's latency (its carrier's, else the route's)."""
    max_validity: float
    dangerous_filter: bool
    start: float
    """A window [start, end) in which the number is assigned (a tenure)."""
    end: float
    thread_lane: _Lane | None = None
    """The lane whose thread in this recipient's handset `thread` is (the latest filed)."""
    thread: DeferredThread | None = None
    """That thread (`Inbox.deferred_thread`), to file the lane's next message directly."""


@dataclass(slots=True, eq=False)
class _Lane:
    """What every plain message of one sender shares (see `CarrierNetwork.submit_single`).

    One per (account, source_addr, source_ton, data_coding, esm_class, registered_delivery),
    all exact ints, built on first use and kept (everything in it is fixed: the account's
    configuration, the sender rules' verdict, the key's metadata around the destination).
    """

    account: str
    source: str
    ton: int
    coding: int
    esm: int
    rd: int
    acct: _Account
    route: str
    dests: dict[str, _Dest]
    """The destinations' table of `route` (shared by every lane of that route)."""
    verdict: SenderVerdict
    head: bytes
    """The key's metadata before the destination: ``account NUL source NUL ton NUL``."""
    hasher: blake2b
    """The content key's blake2b (12 octets) having absorbed `head` (copy, never feed)."""
    tail: str
    """The key's metadata after the destination up to the validity: ``NUL coding NUL esm NUL
    rd NUL``."""
    tail_plain: bytes
    """`tail` with validity, intended owner and obtained date all None, encoded."""
    receipt: bool
    """registered_delivery asks for a receipt of a delivered message."""
    per_message: bool
    """The first attempt's latency is the message's draw ("msg" stream), not the part's."""
    loss: int
    """The receipt is lost below this "part" word."""
    receipt_latency: LatencySampler
    """The account's receipt latency."""
    max_tps: int | None
    """The account's submits per second, or None."""
    dangerous: bool
    """The account or the sender alone makes a message dangerous (a filtering recipient
    rejects it whatever the text)."""
    screened: bool
    """A filtering recipient must check this sender's messages (`dangerous`, or dangerous
    URL hosts are configured)."""
    defer: bool
    """A delivery may be filed as its raw fields (no brand, no reply possible)."""
    flags: str
    """The verdict's flags as a deferred handset message holds them (`flag_text`)."""
    tps: list[int]
    """The account's [second, submits in it] (shared with the general path)."""


# A plain message on its way to the handset (pushed on the heap by `_take`): lane, dest,
# key, message id, id number, submitted at, first-attempt latency, validity (s), receipt due
# (epoch s; None: no receipt), body, validity_s as submitted, source_npi, dest_ton, dest_npi,
# the "msg" and "part" stream digests, and when `submit` took it its `SubmittedMessage` and
# its receipt (built at submission for `SubmitOutcome.scheduled`). `_drop_of` turns it into the
# `_Drop` the general path would have pushed.
_Plain = tuple[
    _Lane, _Dest, str, str, int, float, float, float, float | None, bytes, float | None, int, int,
    int, bytes, bytes, SubmittedMessage | None, ReceiptDue | None,
]  # fmt: skip


@dataclass(slots=True)
class _Release:
    account: str


@dataclass(slots=True)
class _Expiry:
    """The validity of a delivery held by an outage runs out (nothing when no longer held)."""

    drop: _Drop


@dataclass(slots=True)
class _OutageEnd:
    """The end of a carrier outage's window: the deliveries parked on it are made again."""

    fault: CarrierOutageFault


_Item = (
    ReceiptDue | MoDue | NetworkEvent | AlertDue | _Drop | _Release | _OutageEnd | _Expiry | _Plain
)


def _compile_mix(mix: OutcomeMix, p_absent: float) -> _Mix:
    shares = mix.shares()
    cum = tuple(threshold(min(c, 1.0)) for c in itertools.accumulate(shares))
    delivered, expired = shares[0], shares[1]
    p = max(0.0, p_absent - expired) / delivered if delivered > 0 else 0.0
    return _Mix((*cum[:-1], 1 << 32), threshold(min(p, 1.0)))


def _compile_receipts(cfg: ReceiptConfig) -> _Receipts:
    return _Receipts(
        per_message=cfg.granularity == "per_message",
        policy=cfg.policy,
        part_scope=cfg.outcome_scope == "part",
        intermediate=cfg.intermediate,
        latency=compile_latency(cfg.latency),
        id_base=None if cfg.id_in_receipt == "same" else cfg.id_in_receipt,
        loss=threshold(cfg.loss_rate),
        duplicate=threshold(cfg.duplicate_rate),
        duplicate_delay=compile_latency(cfg.duplicate_delay),
        late=threshold(cfg.late_rate),
        late_delay=compile_latency(cfg.late_delay),
        before=threshold(cfg.before_resp_rate),
        malformed=threshold(cfg.malformed_rate),
        fake=threshold(cfg.fake_delivered_rate),
        plain=cfg.policy == "every_part"
        and cfg.id_in_receipt == "same"
        and threshold(cfg.duplicate_rate) == 0
        and threshold(cfg.late_rate) == 0
        and threshold(cfg.before_resp_rate) == 0
        and threshold(cfg.malformed_rate) == 0
        and threshold(cfg.fake_delivered_rate) == 0,
    )


_R = TypeVar("_R")

ReceiptMaker: TypeAlias = Callable[[float, str, str, int, str | None, str, bool, str], _R]
"""Builds a caller's receipt order from a receipt's fields (`CarrierNetwork.advance`):
done_at, resp_message_id, stat, err, the id written in it when it differs from
resp_message_id (else None), text, intermediate (esm_class 0x20), source_addr (the recipient
as the ESME addressed it)."""


def _made(due: ReceiptDue, receipt: ReceiptMaker[_R]) -> _R:
    """A `ReceiptDue` as the caller's receipt order."""
    message_id = due.message_id
    resp_id = due.resp_message_id
    return receipt(
        due.done_at,
        resp_id,
        due.stat,
        due.err,
        None if message_id == resp_id else message_id,
        due.text,
        due.esm_class == ESM_CLASS_INTERMEDIATE,
        due.source_addr,
    )


def _pick(cum: tuple[int, ...], word: int) -> int:
    i = bisect.bisect_right(cum, word)
    return i if i < len(cum) else len(cum) - 1


class CarrierNetwork:
    """The simulated carrier network of one scenario."""

    def __init__(
        self,
        config: NetworkConfig,
        seed: int,
        scenario_id: str,
        *,
        events: bool = True,
        shortcuts: bool = True,
    ) -> None:
        """Compile the configuration and draw the population.

        Args:
            config: The validated network configuration.
            seed: The scenario seed.
            scenario_id: The scenario's identifier (part of every random stream's name).
            events: Build the audit facts (`NetworkEvent`); see `events`.
            shortcuts: Take the hot path's shortcuts for ordinary messages (see the module
                docstring); False forces the general path everywhere. Both give the same
                answers, fates, effects and handsets (a property test compares them).
        """
        self._shortcuts = shortcuts
        self.events = events
        """Build `NetworkEvent`s; False: `submit` and `advance` return none (may be changed
        at any time; it changes no fate, id, receipt, reply or handset)."""
        self.config = config
        self.seed = seed
        self.scenario_id = scenario_id
        self._fates = FateSource(seed, scenario_id)
        # The "msg" and "part" streams' prefixes, hashed once (`fate.digest_after`).
        self._msg_hasher = self._fates.hasher("msg")
        self._part_hasher = self._fates.hasher("part")
        self._tz = zoneinfo.ZoneInfo(config.timezone)
        self._epoch = config.epoch_s
        self.population = Population(config, self._fates)
        self._senders = SenderRules(config)
        self._faults = FaultPlan(config.faults, self._epoch)
        self._outages: list[tuple[CarrierOutageFault, float, float]] = []
        self._outages_revision = -1
        self._parked: dict[int, tuple[CarrierOutageFault, list[_Drop]]] = {}
        self._parked_revision = 0
        self._alerts_pending: set[tuple[str, str, str, float]] = set()
        self._quiet = (
            QuietHours(config.quiet_hours.start, config.quiet_hours.end)
            if config.quiet_hours.enabled
            else None
        )
        self._writer = ReceiptWriter(self._tz, config.receipts.seconds_in_dates)
        self._two_way = TwoWay(config.two_way)
        self._replies = self._two_way.enabled
        self._reply_alphanumeric = config.two_way.reply_to_alphanumeric
        self._errors = config.errors
        self._absence_mean = config.absence.return_mean_s
        self._carriers = {
            name: _Carrier(
                c.retry.offsets(),
                c.max_validity_s,
                c.retry.expire_after_last_retry,
                None if c.latency is None else compile_latency(c.latency),
            )
            for name, c in config.carriers.items()
        }
        routes = config.routes
        self._route_latency: dict[str, LatencySampler] = {
            "domestic_direct": compile_latency(routes.domestic_direct.latency),
            "international": compile_latency(routes.international.latency),
        }
        p_absent = config.absence.p_absent
        self._mixes: list[_Mix] = [
            _compile_mix(routes.domestic_direct.outcomes, p_absent),
            _compile_mix(routes.international.outcomes, p_absent),
        ]
        self._route_mix = {"domestic_direct": 0, "international": 1}
        self._overrides: list[tuple[str | None, str | None, str | None, int]] = []
        for override in config.outcome_overrides:
            self._mixes.append(_compile_mix(override.outcomes, p_absent))
            self._overrides.append(
                (override.route, override.carrier, override.prefix, len(self._mixes) - 1)
            )
        self._default_receipts = _compile_receipts(config.receipts)
        self._accounts: dict[str, _Account] = {}
        qh = config.owner_check
        history_start = qh.history_start or (
            config.epoch.astimezone(self._tz).date()
            - timedelta(days=round(config.recycling.history_years * _YEAR_DAYS))
        )
        self._db = OwnershipDatabase(qh, history_start, self._tz)
        dangerous = config.dangerous
        self._dangerous_hosts = tuple(h.lower() for h in dangerous.url_hosts)
        self._attacker_dangerous = dangerous.attacker_is_dangerous
        self._spoof_dangerous = dangerous.spoof_is_dangerous
        self._heap: list[tuple[float, int, _Item]] = []
        self._counter = itertools.count()
        self._next_id = config.message_ids.start
        self._format_id = id_formatter(config.message_ids)
        self._occurrences: dict[str, int] = {}
        self._previews: dict[tuple[bytes, int], str] = {}
        self._meta_heads: dict[tuple[str, str, int], str] = {}
        self._meta_tails: dict[tuple[int, int, int, str | None, date | None], str] = {}
        self._attempts: dict[str, int] = {}
        self._tps: dict[str, list[int]] = {}
        self._lanes: dict[tuple[str, str, int, int, int, int], _Lane] = {}
        # Per route index (`_route_mix`): destination_addr -> its plain-path entry.
        self._dests: list[dict[str, _Dest]] = [{} for _ in self._route_mix]
        self._inflight: dict[str, int] = {}
        self._reassembler = Reassembler(
            timeout=config.handsets.reassembly_timeout_s, max_pending=1_000_000
        )
        self._parts: dict[tuple[str, str, int, int], list[_Drop]] = {}
        self._inboxes: dict[str, Inbox] = {}
        self._keep = config.handsets.max_messages_per_thread
        self._opted_out: dict[tuple[str, str], float] = {}
        self._last_advance = -math.inf

    @property
    def fault_plan(self) -> FaultPlan:
        """The live fault plan: `FaultPlan.add` / `remove` change faults at run time.

        Submit-phase, receipt and session faults are read when they are consulted; carrier
        outages at each delivery attempt, so an outage added or removed here acts on messages
        already in flight (see the module docstring).
        """
        return self._faults

    # -----------------------------------------------------------------------------------------
    # Accounts and tables
    # -----------------------------------------------------------------------------------------

    def _account(self, name: str) -> _Account:
        acct = self._accounts.get(name)
        if acct is None:
            cfg = self.config.accounts.get(name, self.config.default_account)
            receipts = (
                self._default_receipts if cfg.receipts is None else _compile_receipts(cfg.receipts)
            )
            acct = _Account(name, cfg, cfg.route, receipts, cfg.max_tps, cfg.max_queue)
            self._accounts[name] = acct
        return acct

    def _mix_for(self, sub: Subscriber, route: str) -> _Mix:
        index = sub.outcome_tables.get(route)
        if index is None:
            index = self._route_mix[route]
            for o_route, o_carrier, o_prefix, o_index in self._overrides:
                if (
                    (o_route is None or o_route == route)
                    and (o_carrier is None or o_carrier == sub.carrier)
                    and (o_prefix is None or sub.number.startswith(o_prefix))
                ):
                    index = o_index
                    break
            sub.outcome_tables[route] = index
        return self._mixes[index]

    def _push(self, at: float, item: _Item) -> None:
        heapq.heappush(self._heap, (at, next(self._counter), item))

    def _schedule(self, at: float, item: _Item, drop: _Drop | None) -> None:
        """Push an item, or hold it in ``drop.follow`` when it is due at or after the delivery."""
        if drop is not None and at >= drop.at:
            drop.follow.append((at, item))
        else:
            self._push(at, item)

    # -----------------------------------------------------------------------------------------
    # Submit
    # -----------------------------------------------------------------------------------------

    def _base_key(self, msg: SubmittedMessage, dest: str) -> str:
        if msg.message_key is not None:
            return "k:" + msg.message_key
        if msg.user_message_reference is not None:
            return f"u:{msg.account}|{msg.source_addr}|{dest}|{msg.user_message_reference}"
        # Everything that can change the outcome is part of the key, so two submissions share
        # a base key only when they are interchangeable (then counting them is order-free).
        # SMPP addresses are C-octet strings: NUL cannot occur in them, so NUL-separated fields
        # followed by the body are unambiguous.
        ton, coding, esm, rd = (
            msg.source_ton,
            msg.data_coding,
            msg.esm_class,
            msg.registered_delivery,
        )
        if (
            type(ton) is int  # exact types: 1 == 1.0 == True as keys, but not as text
            and type(coding) is int
            and type(esm) is int
            and type(rd) is int
            and msg.validity_s is None
        ):
            # The common case, from memoised head and tail (formatting costs more).
            head_key = (msg.account, msg.source_addr, ton)
            head = self._meta_heads.get(head_key)
            if head is None:
                head = f"{msg.account}\0{msg.source_addr}\0{ton}\0"
                if len(self._meta_heads) >= _META_CACHE:
                    self._meta_heads.clear()
                self._meta_heads[head_key] = head
            tail_key = (coding, esm, rd, msg.intended_owner, msg.obtained_date)
            tail = self._meta_tails.get(tail_key)
            if tail is None:
                tail = f"{coding}\0{esm}\0{rd}\0None\0{msg.intended_owner}\0{msg.obtained_date}\0"
                if len(self._meta_tails) >= _META_CACHE:
                    self._meta_tails.clear()
                self._meta_tails[tail_key] = tail
            meta = head + dest + "\0" + tail
        else:
            meta = (
                f"{msg.account}\0{msg.source_addr}\0{ton}\0{dest}\0{coding}\0"
                f"{esm}\0{rd}\0{msg.validity_s}\0"
                f"{msg.intended_owner}\0{msg.obtained_date}\0"
            )
        c = msg.concat
        if c is None:
            return "h:" + blake2b(meta.encode() + msg.short_message, digest_size=12).hexdigest()
        return "c:" + content_digest(meta, c.reference, c.total)

    def _refused(
        self,
        msg: SubmittedMessage,
        now: float,
        key: str,
        status: int,
        reason: str,
        *,
        fault: str | None = None,
        respond: bool = True,
        generic_nack: bool = False,
        delay: float = 0.0,
    ) -> SubmitOutcome:
        detail: dict[str, str | int | float | bool | None] = {
            "status": status,
            "reason": reason,
            "part": msg.part,
        }
        events = [NetworkEvent(now, EventKind.REFUSED, key, msg.account, "", detail)]
        if fault is not None:
            events.append(
                NetworkEvent(now, EventKind.FAULT_APPLIED, key, msg.account, "", {"fault": fault})
            )
        return SubmitOutcome(
            status=status,
            message_id=None,
            key=key,
            part=msg.part,
            respond=respond,
            generic_nack=generic_nack,
            response_delay_s=delay,
            events=tuple(events) if self.events else (),
        )

    def submit(self, msg: SubmittedMessage, now: float) -> SubmitOutcome:
        """Take one submit_sm.

        Args:
            msg: The submitted part.
            now: Simulated time of arrival (epoch seconds).

        Returns:
            The answer (status, id, fault behaviour) and what was scheduled.
        """
        if msg.concat is None and msg.route is None and msg.text is None and not msg.set_dpf:
            entry = self._take(
                msg.account, msg.source_addr, msg.source_ton, msg.destination_addr,
                msg.short_message, msg.data_coding, msg.esm_class, msg.registered_delivery,
                msg.validity_s, now, msg.source_npi, msg.dest_ton, msg.dest_npi, msg,
            )  # fmt: skip
            if entry is not None:
                lane, _, key, message_id, _, _, first = entry[:7]
                fate = Fate(
                    key, 1, "delivered", "DELIVRD", 0, first, (), lane.verdict.displayed, "mix",
                    first,
                )  # fmt: skip
                receipt = entry[17]
                scheduled = () if receipt is None else (receipt,)
                return SubmitOutcome(
                    0, message_id, key, 1, True, False, 0.0, (), scheduled, (), fate
                )
        return self._submit(msg, now)

    def submit_single(
        self,
        account: str,
        source_addr: str,
        source_ton: int,
        destination_addr: str,
        body: bytes,
        data_coding: int,
        esm_class: int,
        registered_delivery: int,
        validity_s: float | None,
        now: float,
        source_npi: int = 0,
        dest_ton: int = 0,
        dest_npi: int = 0,
    ) -> str | None:
        """Take an ordinary single message if it is plain; the server adapter's hot path.

        The arguments are the fields of a `SubmittedMessage` without concatenation, TLV
        metadata (message key, user_message_reference, intended owner, obtained date, set_dpf),
        route override or decoded text. When the message is plain (see the module docstring:
        events off, no fault in the plan, a plain receipt configuration, no queue limit, a
        subscriber without handset windows or filters against it, delivered at the first
        attempt) it is accepted exactly as ``submit`` of that `SubmittedMessage` would accept
        it (same id, key, schedule, effects and handset), and its id is returned; no
        `SubmitOutcome` is built. Otherwise nothing changes and None is returned: pass the
        message to ``submit``.

        Args:
            account: system_id of the bound ESME.
            source_addr: source_addr as received.
            source_ton: Its TON.
            destination_addr: destination_addr as received.
            body: The short_message octets (no UDH).
            data_coding: Their data_coding.
            esm_class: esm_class as received.
            registered_delivery: registered_delivery as received.
            validity_s: Validity in seconds from submission, or None.
            now: Simulated time of arrival (epoch seconds).
            source_npi: source_addr_npi.
            dest_ton: dest_addr_ton.
            dest_npi: dest_addr_npi.

        Returns:
            The message id (as ``SubmitOutcome.message_id``), or None when not taken.
        """
        entry = self._take(
            account, source_addr, source_ton, destination_addr, body, data_coding, esm_class,
            registered_delivery, validity_s, now, source_npi, dest_ton, dest_npi, None,
        )  # fmt: skip
        return None if entry is None else entry[3]

    def _take(
        self,
        account: str,
        source_addr: str,
        source_ton: int,
        destination_addr: str,
        body: bytes,
        data_coding: int,
        esm_class: int,
        registered_delivery: int,
        validity_s: float | None,
        now: float,
        source_npi: int,
        dest_ton: int,
        dest_npi: int,
        msg: SubmittedMessage | None,
    ) -> _Plain | None:
        """`submit_single`'s shortcut; returns the `_Plain` entry it pushed, or None.

        ``msg`` is the `SubmittedMessage` of these fields when ``submit`` asks: it is kept in
        the entry, its TLV metadata (message key, user_message_reference, intended owner,
        obtained date) is honoured (the key; an intended owner or obtained date sends the
        delivery through the general path, which checks for misdelivery), and the receipt is
        built now (``submit`` answers it in ``scheduled``; the delivery hands out this very
        object).
        """
        if self.events or not self._shortcuts or not self._faults.empty:
            return None
        if (
            type(source_ton) is not int  # exact types: 1 == 1.0 == True as keys, not as text
            or type(data_coding) is not int
            or type(esm_class) is not int
            or type(registered_delivery) is not int
        ):
            return None
        lane = self._lanes.get(
            (account, source_addr, source_ton, data_coding, esm_class, registered_delivery)
        )
        if lane is None:
            lane = self._lane(
                account, source_addr, source_ton, data_coding, esm_class, registered_delivery
            )
            if lane is None:
                return None
        dest = lane.dests.get(destination_addr)
        if dest is None:
            dest = self._dest(destination_addr, lane.route)
            if dest is None:
                return None
        if not dest.start <= now < dest.end:
            tenure = dest.sub.history.tenure_at(now)
            if tenure is None:
                return None
            dest.start, dest.end = tenure.start, tenure.end
        if (
            dest.dangerous_filter
            and lane.screened
            and (lane.dangerous or self._dangerous_text(self._decode(body, data_coding)))
        ):
            return None
        second = int(now)
        tps = lane.tps
        count = tps[1] if tps[0] == second else 0
        max_tps = lane.max_tps
        if max_tps is not None and count >= max_tps:
            return None
        # The key (`_base_key`), its occurrence, and the "msg" and "part" streams.
        if msg is not None and (
            msg.message_key is not None
            or msg.user_message_reference is not None
            or msg.intended_owner is not None
            or msg.obtained_date is not None
        ):
            base = self._base_key(msg, dest.national)  # metadata from the harness's TLVs
        else:
            h = lane.hasher.copy()  # the content key: blake2b over the metadata and the body
            h.update(dest.head)
            if validity_s is None:
                h.update(lane.tail_plain)
            else:
                h.update(f"{lane.tail}{validity_s}\0None\0None\0".encode())
            h.update(body)
            base = "h:" + h.hexdigest()
        counter_key = base + "/1"
        occurrences = self._occurrences
        occurrence = occurrences.get(counter_key, 0)
        key = f"{base}#{occurrence}"
        h = self._msg_hasher.copy()  # `digest_after`, written out
        h.update(key.encode())
        m_digest = h.digest()
        m_outcome, m_absent, _, m_latency = _FIRST_FOUR.unpack_from(m_digest)
        if m_outcome >= dest.delivered:
            return None  # `_pick` gives OUTCOMES[0] ("delivered") exactly below cum[0]
        if m_absent < dest.absent:
            return None  # absent first
        h = self._part_hasher.copy()
        h.update((key + "/1").encode())
        p_digest = h.digest()
        p_latency, p_receipt_latency, p_loss = _FIRST_THREE.unpack_from(p_digest)
        first = dest.latency((m_latency if lane.per_message else p_latency) * _SCALE32 + _HALF32)
        validity = dest.max_validity
        if validity_s is not None and validity_s < validity:
            validity = validity_s
        if first >= validity:
            return None

        # Delivered at the first attempt: count, number, schedule (as `_submit` / `_accept`).
        occurrences[counter_key] = occurrence + 1
        tps[0] = second
        tps[1] = count + 1
        number = self._next_id
        self._next_id = number + 1
        message_id = self._format_id(number)
        final_at = now + first
        due = (
            final_at + lane.receipt_latency(p_receipt_latency * _SCALE32 + _HALF32)
            if lane.receipt and p_loss >= lane.loss
            else None
        )
        entry: _Plain = (
            lane, dest, key, message_id, number, now, first, validity, due, body, validity_s,
            source_npi, dest_ton, dest_npi, m_digest, p_digest, msg, None,
        )  # fmt: skip
        if msg is not None and due is not None:
            entry = (*entry[:17], self._plain_receipt(entry, final_at))
        heapq.heappush(self._heap, (final_at, next(self._counter), entry))
        return entry

    def _lane(
        self, account: str, source: str, ton: int, coding: int, esm: int, rd: int
    ) -> _Lane | None:
        """Build (and keep) the lane of a sender, or None when its messages are never plain."""
        if not account:
            return None  # `SubmittedMessage` refuses it
        acct = self._account(account)
        route = acct.route
        if acct.max_queue is not None or not acct.receipts.plain or acct.receipts.part_scope:
            return None
        if route not in self._route_mix:
            return None  # the general path raises
        verdict = self._senders.check(account, acct.cfg, route, source, ton)
        if verdict.status != 0 or verdict.blocked:
            return None
        tps = self._tps.get(account)
        if tps is None:
            tps = self._tps[account] = [0, 0]
        head = f"{account}\0{source}\0{ton}\0".encode()
        tail = f"\0{coding}\0{esm}\0{rd}\0"
        rc = acct.receipts
        dangerous = bool(
            (self._attacker_dangerous and acct.cfg.attacker)
            or (self._spoof_dangerous and verdict.spoof)
        )
        lane = _Lane(
            account, source, ton, coding, esm, rd, acct, route,
            self._dests[self._route_mix[route]], verdict, head, blake2b(head, digest_size=12),
            tail,
            f"{tail}None\0None\0None\0".encode(), rd & 0x03 in (1, 3), rc.per_message,
            rc.loss, rc.latency, acct.max_tps, dangerous, dangerous or bool(self._dangerous_hosts),
            verdict.brand is None
            and not (self._replies and (verdict.replyable or self._reply_alphanumeric)),
            flag_text(verdict.flags), tps,
        )  # fmt: skip
        if len(self._lanes) >= _META_CACHE:
            self._lanes.clear()
        self._lanes[(account, source, ton, coding, esm, rd)] = lane
        return lane

    def _dest(self, addr: str, route: str) -> _Dest | None:
        """Build (and keep) a destination's entry on a route, or None when it is never plain."""
        national = self.population.canonical(addr)
        if national is None:
            return None
        sub = self.population.get(national)
        if (
            sub is None
            or sub.handset
            or sub.reject_all
            or sub.forced_outcome is not None
            or (route == "international" and sub.reject_international)
        ):
            return None
        carrier = self._carriers[sub.carrier]
        mix = self._mix_for(sub, route)
        latency = carrier.latency
        dest = _Dest(
            addr, national, national.encode(), sub, mix.cum[0], mix.absent_delivered,
            self._route_latency[route] if latency is None else latency, carrier.max_validity,
            sub.dangerous_filter, math.inf, -math.inf,
        )  # fmt: skip
        table = self._dests[self._route_mix[route]]
        if len(table) >= _DEST_CACHE:
            table.clear()
        table[addr] = dest
        return dest

    def _thread(self, dest: _Dest, lane: _Lane) -> DeferredThread:
        """The lane's thread in the recipient's handset (kept on the destination)."""
        inbox = self._inboxes.get(dest.national)
        if inbox is None:
            inbox = self._inboxes[dest.national] = Inbox(dest.national, self._keep)
        thread = inbox.deferred_thread(lane.verdict.displayed)
        dest.thread_lane = lane
        dest.thread = thread
        return thread

    def _plain_receipt(self, entry: _Plain, final_at: float) -> ReceiptDue:
        """The receipt of a plain message delivered at ``final_at`` (it has one: ``due``)."""
        lane = entry[0]
        message_id = entry[3]
        submitted = entry[5]
        due = entry[8]
        assert due is not None
        return ReceiptDue(
            due,
            entry[2],
            lane.account,
            message_id,
            message_id,
            1,
            "DELIVRD",
            _DELIVERED,
            0,
            self._writer.text(
                message_id,
                submitted,
                final_at,
                "DELIVRD",
                0,
                1,
                self._preview(entry[9], lane.coding),
            ),
            entry[1].addr,
            lane.source,
            ESM_CLASS_RECEIPT,
            submitted,
            final_at,
            _NO_FLAGS,
        )

    def _drop_of(self, entry: _Plain, at: float) -> _Drop:
        """The `_Drop` the general path schedules for a plain message (with its receipt)."""
        (
            lane, dest, key, message_id, number, submitted, first, validity, due, body,
            validity_s, source_npi, dest_ton, dest_npi, m_digest, p_digest, msg, receipt,
        ) = entry  # fmt: skip
        msg = msg or SubmittedMessage(
            lane.account, lane.source, dest.addr, body, lane.coding, lane.ton, source_npi,
            lane.esm, lane.rd, validity_s, dest_ton=dest_ton, dest_npi=dest_npi,
        )  # fmt: skip
        displayed = lane.verdict.displayed
        drop = _Drop(
            at, key, lane.account, dest.national, msg, lane.verdict,
            m_digest, dest.sub, submitted, lane.acct, lane.route,
            Fate(key, 1, "delivered", "DELIVRD", 0, first, (), displayed, "mix", first),
            number, message_id, p_digest, validity,
        )  # fmt: skip
        if due is not None:
            drop.follow.append((due, receipt or self._plain_receipt(entry, at)))
        return drop

    def _submit(self, msg: SubmittedMessage, now: float) -> SubmitOutcome:
        """`submit`'s general path."""
        acct = self._account(msg.account)
        route = msg.route or acct.route
        if route not in self._route_mix:
            raise NetworkModelError(f"unknown route {route!r} for account {msg.account!r}")
        national = self.population.canonical(msg.destination_addr)
        base = self._base_key(msg, national or msg.destination_addr)
        counter_key = f"{base}/{msg.part}"
        occurrence = self._occurrences.get(counter_key, 0)
        key = f"{base}#{occurrence}"
        if national is None:
            return self._refused(
                msg, now, key, int(CommandStatus.ESME_RINVDSTADR), "invalid destination"
            )

        # Flow control and submit-phase faults: these depend on arrival, like a real SMSC's.
        second = int(now)
        tps = self._tps.get(msg.account)
        if tps is None:
            tps = self._tps[msg.account] = [second, 0]
        tps_count = tps[1] if tps[0] == second else 0
        if acct.max_tps is not None and tps_count >= acct.max_tps:
            return self._refused(msg, now, key, int(CommandStatus.ESME_RTHROTTLED), "max_tps")
        if acct.max_queue is not None and self._inflight.get(msg.account, 0) >= acct.max_queue:
            return self._refused(msg, now, key, int(CommandStatus.ESME_RMSGQFUL), "max_queue")
        respond = True
        delay = 0.0
        fault_kind: str | None = None
        if not self._faults.empty:
            active = self._faults.active(now, msg.account, route, Phase.SUBMIT)
            if active:
                attempt = self._attempts.get(counter_key, 0)
                draws = self._fates.rng("submit", f"{key}@{attempt}")
                decision = submit_decision(active, draws.random, tps_count)
                fault_kind = decision.fault
                respond = decision.respond
                delay = decision.delay_s
                if not decision.process or decision.status != 0:
                    self._attempts[counter_key] = attempt + 1
                    return self._refused(
                        msg,
                        now,
                        f"{key}@{attempt}",
                        decision.status,
                        f"fault {decision.fault}",
                        fault=decision.fault,
                        respond=decision.respond,
                        generic_nack=decision.generic_nack,
                        delay=decision.delay_s,
                    )

        verdict = self._senders.check(msg.account, acct.cfg, route, msg.source_addr, msg.source_ton)
        if verdict.status != 0:
            return self._refused(msg, now, key, verdict.status, verdict.reason)

        # Accepted: count the occurrence, the second's submits and the in-flight message.
        self._occurrences[counter_key] = occurrence + 1
        tps[0] = second
        tps[1] = tps_count + 1
        number = self._next_id
        self._next_id = number + 1
        message_id = self._format_id(number)
        return self._accept(
            msg,
            now,
            acct,
            route,
            national,
            key,
            number,
            message_id,
            verdict,
            respond,
            delay,
            fault_kind,
        )

    def _validity(self, msg: SubmittedMessage, sub: Subscriber) -> float:
        validity = self._carriers[sub.carrier].max_validity
        if msg.validity_s is not None and msg.validity_s < validity:
            validity = msg.validity_s
        return validity

    def _dangerous(self, msg: SubmittedMessage, acct: _Account, verdict: SenderVerdict) -> bool:
        if self._attacker_dangerous and acct.cfg.attacker:
            return True
        if self._spoof_dangerous and verdict.spoof:
            return True
        return bool(self._dangerous_hosts) and self._dangerous_text(self._text(msg))

    def _dangerous_text(self, text: str) -> bool:
        """The text names a dangerous URL host (case-insensitive)."""
        text = text.lower()
        return any(host in text for host in self._dangerous_hosts)

    def _preview(self, body: bytes, data_coding: int) -> str:
        """The receipt's ``text:`` (20 characters of the body), memoised per body prefix."""
        key = (body if len(body) <= _PREVIEW_OCTETS else body[:_PREVIEW_OCTETS], data_coding)
        preview = self._previews.get(key)
        if preview is None:
            # 44 octets hold 20 characters in every encoding.
            preview = self._decode(key[0], data_coding)[:20]
            if len(self._previews) >= _PREVIEW_CACHE:
                self._previews.clear()
            self._previews[key] = preview
        return preview

    @staticmethod
    def _decode(body: bytes, data_coding: int) -> str:
        """The body as a handset shows it ("" when its data_coding cannot be read)."""
        try:
            return decode(body, encoding_for_data_coding(data_coding), strict=False)
        except SmsError:
            return ""

    def _text(self, msg: SubmittedMessage) -> str:
        return (
            msg.text if msg.text is not None else self._decode(msg.short_message, msg.data_coding)
        )

    def _fate(
        self,
        msg: SubmittedMessage,
        now: float,
        acct: _Account,
        route: str,
        sub: Subscriber | None,
        key: str,
        verdict: SenderVerdict,
        m: tuple[int, ...],
        p: tuple[int, ...],
    ) -> Fate:
        """Rule 1: the one place a part's fate is decided."""
        errors = self._errors
        rc = acct.receipts
        seq = msg.part
        displayed = verdict.displayed
        if sub is None:
            return Fate(
                key, seq, "unassigned", "UNDELIV", errors.unknown_subscriber, 0.0, (), displayed,
                "not in service",
            )  # fmt: skip
        carrier = self._carriers[sub.carrier]
        latency = carrier.latency
        if latency is None:
            latency = self._route_latency[route]
        first = latency((m[_M_LATENCY] if rc.per_message else p[_P_LATENCY]) * _SCALE32 + _HALF32)
        if sub.history.tenure_at(now) is None:
            return Fate(
                key, seq, "unassigned", "UNDELIV", errors.unknown_subscriber, 0.0, (), displayed,
                "disconnected",
            )  # fmt: skip
        if verdict.blocked:
            return Fate(
                key, seq, "blocked", "REJECTD", errors.screening, 0.0, (), displayed, "registry"
            )
        if sub.reject_all:
            return Fate(
                key, seq, "filtered", "REJECTD", errors.call_barred, first, (), displayed,
                "reject_all",
            )  # fmt: skip
        if route == "international" and sub.reject_international:
            return Fate(
                key, seq, "filtered", "REJECTD", errors.call_barred, first, (), displayed,
                "reject_international",
            )  # fmt: skip
        if sub.dangerous_filter and self._dangerous(msg, acct, verdict):
            return Fate(
                key, seq, "filtered", "REJECTD", errors.call_barred, first, (), displayed,
                "dangerous_sms",
            )  # fmt: skip

        mix = self._mix_for(sub, route)
        w = p if rc.part_scope else m
        o = _P_OUTCOME if rc.part_scope else _M_OUTCOME
        outcome = sub.forced_outcome or OUTCOMES[_pick(mix.cum, w[o])]
        validity = carrier.max_validity
        if msg.validity_s is not None and msg.validity_s < validity:
            validity = msg.validity_s
        if outcome == "delivered":
            if first >= validity:
                return Fate(
                    key, seq, "expired", "EXPIRED", errors.absent, validity, (), displayed,
                    "validity",
                )  # fmt: skip
            if self._shortcuts and not sub.handset and w[o + 1] >= mix.absent_delivered:
                # The common case: handset on, not absent; delivered at the first attempt.
                return Fate(
                    key, seq, "delivered", "DELIVRD", 0, first, (), displayed, "mix", first, None
                )
        offsets = carrier.offsets
        give_up = validity
        if carrier.expire_after_last and offsets:
            give_up = min(validity, first + offsets[-1])

        if outcome == "delivered":
            at = first
            attempts: list[float] = []
            state = sub.handset_state(now + first) if sub.handset else None
            reason = "mix"
            available: float | None = None
            if state is not None:
                back = sub.available_after(now + first)
                available = None if back is None else back - now
                at = -1.0
                attempts.append(first)
                for s in offsets:
                    t = first + s
                    if t > give_up:
                        break
                    if sub.handset_state(now + t) is None:
                        at = t
                        break
                    attempts.append(t)
                if at < 0:
                    err = errors.absent if state == "off" else errors.memory_full
                    return Fate(
                        key,
                        seq,
                        "expired",
                        "EXPIRED",
                        err,
                        give_up,
                        tuple(attempts),
                        displayed,
                        f"handset {state}",
                        available_after_s=available,
                    )
                reason = f"handset {state}"
            elif w[o + 1] < mix.absent_delivered and offsets:
                usable = bisect.bisect_right(offsets, give_up - first)
                if usable:
                    window = offsets[usable - 1]
                    mean = self._absence_mean
                    u_return = uniform(w[o + 2])
                    ret = -mean * math.log(1.0 - u_return * (1.0 - math.exp(-window / mean)))
                    k = min(bisect.bisect_left(offsets, ret), usable - 1)
                    attempts.append(first)
                    attempts.extend(first + s for s in offsets[:k])
                    at = first + offsets[k]
                    available = first + ret
                    reason = "absent, returned"
            return Fate(
                key,
                seq,
                "delivered",
                "DELIVRD",
                0,
                at,
                tuple(attempts),
                displayed,
                reason,
                first_attempt_s=first,
                available_after_s=available,
            )
        if outcome in ("expired", "memory_full"):
            attempts = [first] if first <= give_up else []
            attempts.extend(first + s for s in offsets if first + s <= give_up)
            err = errors.absent if outcome == "expired" else errors.memory_full
            return Fate(
                key, seq, outcome, "EXPIRED", err, give_up, tuple(attempts), displayed, "mix"
            )
        if outcome == "unknown_subscriber":
            stat, err = "UNDELIV", errors.unknown_subscriber
        elif outcome == "rejected":
            stat, err = "REJECTD", errors.call_barred
        elif outcome == "system_failure":
            stat, err = "UNDELIV", errors.system_failure
        else:
            stat, err = "UNKNOWN", errors.unknown
        return Fate(key, seq, outcome, stat, err, first, (), displayed, "mix")

    def _accept_events(
        self,
        msg: SubmittedMessage,
        now: float,
        key: str,
        national: str,
        verdict: SenderVerdict,
        route: str,
        fault_kind: str | None,
        message_id: str,
    ) -> list[NetworkEvent]:
        """The facts established when a part is accepted (accepted, fault, sender rules)."""
        account = msg.account
        events: list[NetworkEvent] = [
            NetworkEvent(
                now,
                EventKind.ACCEPTED,
                key,
                account,
                national,
                {
                    "message_id": message_id,
                    "part": msg.part,
                    "total": msg.total,
                    "route": route,
                    "sender": verdict.displayed,
                },
            )
        ]
        if fault_kind is not None:
            events.append(
                NetworkEvent(
                    now, EventKind.FAULT_APPLIED, key, account, national, {"fault": fault_kind}
                )
            )
        if verdict.blocked:
            events.append(
                NetworkEvent(
                    now,
                    EventKind.SPOOF_BLOCKED,
                    key,
                    account,
                    national,
                    {"sender": msg.source_addr, "brand": verdict.brand},
                )
            )
        elif verdict.relabelled:
            events.append(
                NetworkEvent(
                    now,
                    EventKind.SENDER_RELABELLED,
                    key,
                    account,
                    national,
                    {
                        "sender": msg.source_addr,
                        "displayed": verdict.displayed,
                        "spoof": verdict.spoof,
                        "brand": verdict.brand,
                    },
                )
            )
        elif verdict.replaced:
            events.append(
                NetworkEvent(
                    now,
                    EventKind.SENDER_REPLACED,
                    key,
                    account,
                    national,
                    {"sender": msg.source_addr, "displayed": verdict.displayed},
                )
            )
        return events

    def _accept(
        self,
        msg: SubmittedMessage,
        now: float,
        acct: _Account,
        route: str,
        national: str,
        key: str,
        number: int,
        message_id: str,
        verdict: SenderVerdict,
        respond: bool,
        delay: float,
        fault_kind: str | None,
    ) -> SubmitOutcome:
        sub = self.population.get(national)
        m_digest = digest_after(self._msg_hasher, key)
        p_digest = digest_after(self._part_hasher, f"{key}/{msg.part}")
        m = words_of(m_digest)
        p = words_of(p_digest)
        fate = self._fate(msg, now, acct, route, sub, key, verdict, m, p)
        account = msg.account
        events: tuple[NetworkEvent, ...] = ()
        if self.events:
            events = tuple(
                self._accept_events(msg, now, key, national, verdict, route, fault_kind, message_id)
            )

        final_at = now + fate.final_after_s
        drop: _Drop | None = None
        if fate.stat == "DELIVRD" and sub is not None:  # DELIVRD implies a subscriber
            drop = _Drop(
                final_at,
                key,
                account,
                national,
                msg,
                verdict,
                m_digest,
                sub,
                now,
                acct,
                route,
                fate,
                number,
                message_id,
                p_digest,
                self._validity(msg, sub),
            )
            heapq.heappush(self._heap, (final_at, next(self._counter), drop))
        elif self.events:
            kind = EventKind.FILTERED if fate.outcome == "filtered" else EventKind.FAILED
            self._push(
                final_at,
                NetworkEvent(
                    final_at,
                    kind,
                    key,
                    account,
                    national,
                    {"stat": fate.stat, "err": fate.err, "part": msg.part, "reason": fate.reason},
                ),
            )
        if fate.attempts_after_s and self.events:
            first_fail = now + fate.attempts_after_s[0]
            self._push(
                first_fail,
                NetworkEvent(
                    first_fail,
                    EventKind.ATTEMPT_FAILED,
                    key,
                    account,
                    national,
                    {
                        "part": msg.part,
                        "retries": len(fate.attempts_after_s),
                        "reason": fate.reason,
                    },
                ),
            )
        if acct.max_queue is not None:
            self._inflight[account] = self._inflight.get(account, 0) + 1
            self._schedule(final_at, _Release(account), drop)
        if msg.set_dpf and fate.attempts_after_s and fate.available_after_s is not None:
            self._alert_when_available(msg, now + fate.available_after_s, key, national)

        rc = acct.receipts
        rd = msg.registered_delivery
        if (
            rc.plain
            and self._shortcuts
            and self._faults.empty
            and not (fate.attempts_after_s and rd & _RD_INTERMEDIATE and rc.intermediate)
        ):
            # What `_receipts` does for a plain receipt configuration, straight through.
            before: tuple[ReceiptDue, ...] = ()
            scheduled: tuple[ReceiptDue, ...] = ()
            want = rd & 0x03
            stat = fate.stat
            if want != 0 and not (
                (want == 2 and stat == "DELIVRD") or (want == 3 and stat != "DELIVRD")
            ):
                err = fate.err
                due = final_at + rc.latency(p[_P_RECEIPT_LATENCY] * _SCALE32 + _HALF32)
                if p[_P_LOSS] < rc.loss:
                    if self.events:
                        self._schedule(
                            due,
                            NetworkEvent(
                                due,
                                EventKind.RECEIPT_LOST,
                                key,
                                account,
                                national,
                                {"message_id": message_id, "part": msg.part, "stat": stat},
                            ),
                            drop,
                        )
                else:
                    body = (
                        msg.text[:20]
                        if msg.text is not None
                        else self._preview(msg.short_message, msg.data_coding)
                    )
                    dlvrd = 1 if stat == "DELIVRD" else 0
                    receipt = ReceiptDue(
                        due,
                        key,
                        account,
                        message_id,
                        message_id,
                        msg.part,
                        stat,
                        _STATE[stat],
                        err,
                        self._writer.text(message_id, now, final_at, stat, err, dlvrd, body),
                        msg.destination_addr,
                        msg.source_addr,
                        ESM_CLASS_RECEIPT,
                        now,
                        final_at,
                        _NO_FLAGS,
                    )
                    if drop is not None and due >= final_at:
                        drop.follow.append((due, receipt))
                    else:
                        heapq.heappush(self._heap, (due, next(self._counter), receipt))
                    scheduled = (receipt,)
        else:
            before, scheduled = self._receipts(
                msg, now, acct, route, national, fate, number, message_id, p, drop
            )
        return SubmitOutcome(
            0, message_id, key, msg.part, respond, False, delay, before, scheduled, events, fate
        )

    def _alert_when_available(
        self, msg: SubmittedMessage, at: float, key: str, national: str
    ) -> None:
        """Schedule alert_notification for a set_dpf submit whose handset was absent."""
        if at == math.inf:
            return
        slot = (msg.account, national, msg.source_addr, at)
        if slot in self._alerts_pending:
            return  # one alert per subscriber return, whatever the number of parts or messages
        self._alerts_pending.add(slot)
        self._push(
            at,
            AlertDue(
                at=at,
                key=key,
                account=msg.account,
                number=national,
                ms_addr=msg.destination_addr,
                ms_ton=msg.dest_ton,
                ms_npi=msg.dest_npi,
                esme_addr=msg.source_addr,
                esme_ton=msg.source_ton,
                esme_npi=msg.source_npi,
            ),
        )

    def _receipts(
        self,
        msg: SubmittedMessage,
        now: float,
        acct: _Account,
        route: str,
        national: str,
        fate: Fate,
        number: int,
        message_id: str,
        p: tuple[int, ...],
        drop: _Drop | None = None,
        *,
        replay: bool = False,
        intermediate: bool = True,
        final: bool = True,
    ) -> tuple[tuple[ReceiptDue, ...], tuple[ReceiptDue, ...]]:
        """Build and schedule a part's receipts; returns (before the response, scheduled).

        Items due at or after ``drop`` (the final receipt, its duplicate or loss event) wait in
        ``drop.follow`` until the delivery happens. ``replay`` rebuilds them after a carrier
        outage moved or failed the delivery: a receipt already sent before the response is not
        sent again. ``intermediate`` / ``final`` select the ENROUTE notification and the rest.
        """
        rc = acct.receipts
        rd = msg.registered_delivery
        want = rd & 0x03
        if want == 0:
            return (), ()
        if rc.policy == "first_part" and msg.part != 1:
            return (), ()
        if rc.policy == "last_part" and msg.part != msg.total:
            return (), ()
        stat, err = fate.stat, fate.err
        flags: set[str] = set()
        if stat != "DELIVRD" and p[_P_FAKE] < rc.fake:
            stat, err = "DELIVRD", 0
            flags.add("fake")
        if (want == 2 and stat == "DELIVRD") or (want == 3 and stat != "DELIVRD"):
            return (), ()
        account = msg.account
        rid = (
            message_id
            if rc.id_base is None
            else format_id(number, self.config.message_ids, rc.id_base)
        )
        body = (
            msg.text[:20]
            if msg.text is not None
            else self._preview(msg.short_message, msg.data_coding)
        )
        done = now + fate.final_after_s
        due = done + rc.latency(p[_P_RECEIPT_LATENCY] * _SCALE32 + _HALF32)
        if p[_P_LATE] < rc.late:
            due += rc.late_delay(uniform(p[_P_LATE_DELAY]))
            flags.add("late")
        if not self._faults.empty:
            active = self._faults.active(due, account, route, Phase.RECEIPT)
            if active:
                due += receipt_extra_delay(active, uniform(p[_P_SLOW]))
                flags.add("slow")
        before = p[_P_BEFORE] < rc.before
        if before and replay:
            return (), ()
        if before:
            due = done = now
            flags.add("before_resp")
        text = self._writer.text(rid, now, done, stat, err, 1 if stat == "DELIVRD" else 0, body)
        if p[_P_MALFORMED] < rc.malformed:
            text = damage(text, rid, stat, err, uniform(p[_P_MALFORMED_VARIANT]))
            flags.add("malformed")
        receipt = ReceiptDue(
            due,
            fate.key,
            account,
            rid,
            message_id,
            msg.part,
            stat,
            _STATE[stat],
            err,
            text,
            msg.destination_addr,
            msg.source_addr,
            ESM_CLASS_RECEIPT,
            now,
            done,
            frozenset(flags) if flags else _NO_FLAGS,
        )
        out: list[ReceiptDue] = []
        if (
            intermediate
            and rd & _RD_INTERMEDIATE
            and rc.intermediate
            and fate.attempts_after_s
            and not before
        ):
            at = now + fate.attempts_after_s[0]
            out.append(
                ReceiptDue(
                    at=at,
                    key=fate.key,
                    account=account,
                    message_id=rid,
                    resp_message_id=message_id,
                    part=msg.part,
                    stat="ENROUTE",
                    message_state=_STATE["ENROUTE"],
                    err=self._errors.absent,
                    text=self._writer.text(rid, now, at, "ENROUTE", self._errors.absent, 0, body),
                    source_addr=msg.destination_addr,
                    destination_addr=msg.source_addr,
                    esm_class=ESM_CLASS_INTERMEDIATE,
                    submitted_at=now,
                    done_at=at,
                    flags=frozenset({"intermediate"}),
                )
            )
        if not final:
            for r in out:
                self._push(r.at, r)
            return (), tuple(out)
        if p[_P_LOSS] < rc.loss:
            if self.events:
                self._schedule(
                    due,
                    NetworkEvent(
                        due,
                        EventKind.RECEIPT_LOST,
                        fate.key,
                        account,
                        national,
                        {"message_id": rid, "part": msg.part, "stat": stat},
                    ),
                    drop,
                )
        elif before:
            for r in out:
                self._push(r.at, r)
            return (receipt,), tuple(out)
        else:
            out.append(receipt)
            if p[_P_DUPLICATE] < rc.duplicate:
                dup_at = due + rc.duplicate_delay(uniform(p[_P_DUPLICATE_DELAY]))
                out.append(
                    ReceiptDue(
                        at=dup_at,
                        key=fate.key,
                        account=account,
                        message_id=rid,
                        resp_message_id=message_id,
                        part=msg.part,
                        stat=stat,
                        message_state=receipt.message_state,
                        err=err,
                        text=text,
                        source_addr=receipt.source_addr,
                        destination_addr=receipt.destination_addr,
                        esm_class=ESM_CLASS_RECEIPT,
                        submitted_at=now,
                        done_at=done,
                        flags=receipt.flags | {"duplicate"},
                    )
                )
        for r in out:
            self._schedule(r.at, r, drop)
        return (), tuple(out)

    # -----------------------------------------------------------------------------------------
    # Time
    # -----------------------------------------------------------------------------------------

    def next_due(self) -> float | None:
        """When `advance` next has something to do (for the server's single timer).

        Returns:
            Epoch seconds of the earliest scheduled item, or None when idle.
        """
        when = self._heap[0][0] if self._heap else None
        deadline = self._reassembler.next_deadline()
        if deadline is not None and (when is None or deadline < when):
            return deadline
        return when

    @overload
    def advance(self, now: float) -> list[Effect]: ...

    @overload
    def advance(self, now: float, receipt: ReceiptMaker[_R]) -> list[Effect | _R]: ...

    def advance(self, now: float, receipt: ReceiptMaker[Any] | None = None) -> list[Any]:
        """Everything due by `now`, in time order.

        Args:
            now: Simulated time (epoch seconds); must not go backwards.
            receipt: When given, each receipt is returned as what it builds from the
                receipt's fields (`ReceiptMaker`) instead of as a `ReceiptDue`; a plain
                message's receipt handed out at its delivery is then never built as a
                `ReceiptDue` at all (the server's adapter builds its orders so).

        Returns:
            Receipts to send, MO parts to send and events to publish.

        Raises:
            NetworkModelError: `now` is earlier than the previous call's.
        """
        if now < self._last_advance:
            raise NetworkModelError(f"time went backwards: {now} < {self._last_advance}")
        self._last_advance = now
        if self._parked and self._faults.revision != self._parked_revision:
            # An outage taken out of the plan before its end releases what it held, now.
            self._parked_revision = self._faults.revision
            for fault, _ in list(self._parked.values()):
                if fault not in self._faults:
                    self._unpark(fault, now)
        out: list[Any] = []
        heap = self._heap
        # Plain deliveries go through the general path while events are on or an outage may
        # be in the plan (neither changes during this call; `_attempt` may find no outage).
        general = bool(
            self.events or self._outages or self._faults.revision != self._outages_revision
        )
        deadline = self._reassembler.next_deadline()
        while True:
            at = heap[0][0] if heap else math.inf
            if deadline is not None and deadline <= now and deadline < at:
                for r in self._reassembler.expire(deadline):
                    self._flushed(r, out)
                deadline = self._reassembler.next_deadline()
                continue
            if at > now:
                break
            item = heapq.heappop(heap)[2]
            kind = type(item)  # (none of the item classes is subclassed)
            if kind is ReceiptDue:
                out.append(item if receipt is None else _made(cast(ReceiptDue, item), receipt))
            elif kind is tuple:
                entry = cast(_Plain, item)
                lane = entry[0]
                msg = entry[16]
                if (
                    general
                    or not lane.defer
                    or (
                        msg is not None
                        and (msg.intended_owner is not None or msg.obtained_date is not None)
                    )
                ):
                    # Someone reads this delivery now (events, a reply, an outage to check):
                    # the general path's drop.
                    if self._attempt(self._drop_of(entry, at), out, receipt):
                        deadline = self._reassembler.next_deadline()
                    continue
                # `_attempt` and `_deliver` of a plain message, deferred filing, written out.
                dest = entry[1]
                thread = dest.thread
                if dest.thread_lane is not lane or thread is None:
                    thread = self._thread(dest, lane)
                body = entry[9]
                thread.append(
                    (at, lane.verdict.displayed, entry[2], lane.account, lane.flags, body,
                     lane.coding)
                )  # fmt: skip
                due = entry[8]
                if due is None:
                    continue
                due_receipt = entry[17]
                if due_receipt is not None:  # built when `submit` took it
                    if due == at and (not heap or heap[0][0] > at):
                        out.append(due_receipt if receipt is None else _made(due_receipt, receipt))
                    else:
                        heapq.heappush(heap, (due, next(self._counter), due_receipt))
                    continue
                if receipt is not None and due == at and (not heap or heap[0][0] > at):
                    # Handed out now (as `_attempt` does): the caller's own receipt, directly.
                    message_id = entry[3]
                    out.append(
                        receipt(
                            at,
                            message_id,
                            "DELIVRD",
                            0,
                            None,
                            self._writer.text(
                                message_id,
                                entry[5],
                                at,
                                "DELIVRD",
                                0,
                                1,
                                self._preview(body, lane.coding),
                            ),
                            False,
                            dest.addr,
                        )
                    )
                    continue
                due_receipt = self._plain_receipt(entry, at)
                if due == at and (not heap or heap[0][0] > at):
                    out.append(due_receipt)  # as `_attempt` hands out a receipt due now
                else:
                    heapq.heappush(heap, (due, next(self._counter), due_receipt))
            elif kind is _Drop:
                if self._attempt(cast(_Drop, item), out, receipt):
                    deadline = self._reassembler.next_deadline()
            elif isinstance(item, _Release):
                self._inflight[item.account] = self._inflight.get(item.account, 1) - 1
            elif isinstance(item, _OutageEnd):
                self._unpark(item.fault, at)
            elif isinstance(item, AlertDue):
                self._alerts_pending.discard((item.account, item.number, item.esme_addr, item.at))
                out.append(item)
            elif isinstance(item, _Expiry):
                if item.drop.parked:
                    self._expire_parked(item.drop, at, out)
            elif not isinstance(item, (_Drop, tuple)):
                out.append(item)
        return out

    # -----------------------------------------------------------------------------------------
    # Carrier outages (decided at each delivery attempt, against the live plan)
    # -----------------------------------------------------------------------------------------

    def _live_outages(self) -> list[tuple[CarrierOutageFault, float, float]]:
        plan = self._faults
        if plan.revision != self._outages_revision:
            self._outages = plan.carrier_outages()
            self._outages_revision = plan.revision
        return self._outages

    def _attempt(
        self, drop: _Drop, out: list[Effect], receipt: ReceiptMaker[Any] | None = None
    ) -> bool:
        """Make a delivery attempt; False when a carrier outage delays or fails it.

        A receipt handed out directly goes through ``receipt`` when given (see `advance`).
        """
        outages = (
            self._outages
            if self._faults.revision == self._outages_revision
            else self._live_outages()
        )
        if outages:
            hit = outage_decision(outages, drop.subscriber.carrier, drop.at)
            if hit is not None and hit.fault is not None:
                self._outage_hit(drop, hit.fault, hit.mode, hit.until, hit.err, out)
                return False
        self._deliver(drop, out)
        follow = drop.follow
        if follow:
            heap = self._heap
            counter = self._counter
            now = drop.at if self._shortcuts else math.nan
            for at, item in follow:
                if at == now and type(item) is ReceiptDue and (not heap or heap[0][0] > at):
                    # Due now and nothing else is due at this instant: the heap would hand it
                    # back next, so hand it out directly (same order, one push and pop less).
                    out.append(item if receipt is None else _made(item, receipt))
                else:
                    heapq.heappush(heap, (at, next(counter), item))
            drop.follow = []
        return True

    def _outage_hit(
        self,
        drop: _Drop,
        fault: CarrierOutageFault,
        mode: str,
        until: float,
        err: int,
        out: list[Effect],
    ) -> None:
        fate = drop.fate
        when = drop.at
        after = when - drop.submitted_at
        first_failure = not fate.attempts_after_s and not drop.retried
        releases: list[tuple[float, _Item]] = [
            (when, item) for _, item in drop.follow if isinstance(item, _Release)
        ]
        drop.follow = []
        if mode == "fail":
            drop.follow = releases
            self._end_undelivered(drop, when, "system_failure", "UNDELIV", err, out)
            return
        drop.retried = (*drop.retried, after)
        drop.follow = releases
        if first_failure:
            if self.events:
                out.append(
                    NetworkEvent(
                        when,
                        EventKind.ATTEMPT_FAILED,
                        drop.key,
                        drop.account,
                        drop.number,
                        {"part": drop.msg.part, "retries": 1, "reason": "carrier outage"},
                    )
                )
            self._receipts(
                drop.msg,
                drop.submitted_at,
                drop.acct,
                drop.route,
                drop.number,
                replace(fate, attempts_after_s=(after,)),
                drop.id_number,
                drop.message_id,
                drop.part_words,
                final=False,
            )
        parked = self._parked.get(id(fault))
        if parked is None:
            parked = self._parked[id(fault)] = (fault, [])
            if until < math.inf:
                self._push(until, _OutageEnd(fault))
        parked[1].append(drop)
        drop.parked = True
        if drop.validity_s < math.inf:
            self._push(drop.submitted_at + drop.validity_s, _Expiry(drop))

    def _end_undelivered(
        self, drop: _Drop, when: float, outcome: str, stat: str, err: int, out: list[Effect]
    ) -> None:
        """A held or attempted delivery ends without reaching the handset: rebuild its receipts."""
        fate = drop.fate
        reason = "carrier outage" if stat == "UNDELIV" else "carrier outage, validity"
        ended = replace(
            fate,
            outcome=outcome,
            stat=stat,
            err=err,
            final_after_s=when - drop.submitted_at,
            attempts_after_s=fate.attempts_after_s + drop.retried,
            reason=reason,
        )
        if self.events:
            out.append(
                NetworkEvent(
                    when,
                    EventKind.FAILED,
                    drop.key,
                    drop.account,
                    drop.number,
                    {"stat": stat, "err": err, "part": drop.msg.part, "reason": reason},
                )
            )
        for _, item in drop.follow:
            self._push(when, item)
        drop.follow = []
        self._receipts(
            drop.msg,
            drop.submitted_at,
            drop.acct,
            drop.route,
            drop.number,
            ended,
            drop.id_number,
            drop.message_id,
            drop.part_words,
            replay=True,
            intermediate=False,
        )

    def _expire_parked(self, drop: _Drop, when: float, out: list[Effect]) -> None:
        """The validity of a held delivery ran out: EXPIRED, and no longer held."""
        for fault, held in list(self._parked.values()):
            kept = [d for d in held if d is not drop]
            if len(kept) != len(held):
                if kept:
                    held[:] = kept
                else:
                    del self._parked[id(fault)]
                break
        drop.parked = False
        self._end_undelivered(drop, when, "expired", "EXPIRED", self._errors.absent, out)

    def _unpark(self, fault: CarrierOutageFault, at: float) -> None:
        """The outage ended at ``at``: attempt its held deliveries again one latency later."""
        parked = self._parked.pop(id(fault), None)
        if parked is None:
            return
        for drop in parked[1]:
            fate = drop.fate
            first_s = fate.first_attempt_s
            if at + first_s >= drop.submitted_at + drop.validity_s:
                continue  # too late to deliver: its _Expiry item ends it as EXPIRED
            drop.parked = False
            drop.at = at + first_s
            drop.follow = [(drop.at, item) for _, item in drop.follow]
            delayed = replace(
                fate,
                final_after_s=drop.at - drop.submitted_at,
                attempts_after_s=fate.attempts_after_s + drop.retried,
                reason="carrier outage, delayed",
            )
            self._receipts(
                drop.msg,
                drop.submitted_at,
                drop.acct,
                drop.route,
                drop.number,
                delayed,
                drop.id_number,
                drop.message_id,
                drop.part_words,
                drop,
                replay=True,
                intermediate=False,
            )
            self._push(drop.at, drop)

    # -----------------------------------------------------------------------------------------
    # Handsets
    # -----------------------------------------------------------------------------------------

    def _deliver(self, drop: _Drop, out: list[Effect]) -> None:
        at = drop.at
        msg = drop.msg
        verdict = drop.verdict
        concat = msg.concat
        if not self.events:
            if (
                self._shortcuts
                and concat is None
                and verdict.brand is None
                and msg.intended_owner is None
                and msg.obtained_date is None
                and not (self._replies and (verdict.replyable or self._reply_alphanumeric))
            ):
                # Nothing reads this message now (no bus, no reply, no misdelivery or spoof
                # to book): file it as itself and build what the handset shows when viewed.
                inbox = self._inboxes.get(drop.number)
                if inbox is None:
                    inbox = self._inboxes[drop.number] = Inbox(drop.number, self._keep)
                inbox.file_deferred(
                    at,
                    verdict.displayed,
                    drop.key,
                    drop.account,
                    verdict.flags,
                    msg.short_message,
                    msg.data_coding,
                )
                return
        else:
            sub = drop.subscriber
            if self._quiet is not None:
                tz = self._tz if sub.tz is None else sub.tz
                if self._quiet.is_quiet(at, tz):
                    out.append(
                        NetworkEvent(
                            at,
                            EventKind.DELIVERED_IN_QUIET_HOURS,
                            drop.key,
                            drop.account,
                            drop.number,
                            {"part": msg.part},
                        )
                    )
            out.append(
                NetworkEvent(
                    at,
                    EventKind.DELIVERED,
                    drop.key,
                    drop.account,
                    drop.number,
                    {"part": msg.part, "total": msg.total, "sender": verdict.displayed},
                )
            )
        if concat is None:
            # A single message needs no reassembly: decode it as the handset would.
            try:
                encoding = encoding_for_data_coding(msg.data_coding)
                text = decode(msg.short_message, encoding, strict=False)
            except SmsError:
                text = ""
            self._complete([drop], text, 1, (), at, out)
            return
        slot = (verdict.displayed, drop.number, concat.reference, concat.total)
        self._parts.setdefault(slot, []).append(drop)
        try:
            flushed = self._reassembler.add(
                verdict.displayed,
                drop.number,
                concat,
                msg.short_message,
                at,
                data_coding=msg.data_coding,
            )
        except SmsError:
            flushed = []
        for r in flushed:
            self._flushed(r, out)

    def _flushed(self, r: Reassembled, out: list[Effect]) -> None:
        if r.reference is None:
            return
        metas = self._parts.pop((r.source, r.destination, r.reference, r.total), [])
        if not metas:
            return
        at = r.last_seen
        if r.reason is FlushReason.EXPIRED:
            at = r.first_seen + self.config.handsets.reassembly_timeout_s
        self._complete(metas, r.text, r.total, r.missing, at, out)

    def _complete(
        self,
        metas: list[_Drop],
        text: str,
        total: int,
        missing: tuple[int, ...],
        at: float,
        out: list[Effect],
    ) -> None:
        """File a whole message (or what arrived of it) in the handset and audit it."""
        head = metas[0]
        complete = not missing
        verdict = head.verdict
        sub = head.subscriber
        flags = verdict.flags
        if not complete:
            flags = flags | {"incomplete"}
        misdelivered = False
        intended_owner = head.msg.intended_owner
        obtained_date = head.msg.obtained_date
        if intended_owner is not None or obtained_date is not None:
            # Only when the sender said whom it means to reach can a delivery be wrong.
            tenure = sub.history.tenure_at(at)
            if intended_owner is not None:
                misdelivered = tenure is None or tenure.owner != intended_owner
            elif obtained_date is not None:
                misdelivered = sub.history.changed_since(obtained_date, at)
            if misdelivered:
                flags = flags | {"misdelivery"}
            if misdelivered and self.events:
                out.append(
                    NetworkEvent(
                        at,
                        EventKind.MISDELIVERY,
                        head.key,
                        head.account,
                        head.number,
                        {
                            "owner": None if tenure is None else tenure.owner,
                            "intended_owner": intended_owner,
                            "obtained_date": None
                            if obtained_date is None
                            else obtained_date.isoformat(),
                        },
                    )
                )
        keys = (head.key,) if len(metas) == 1 else tuple(dict.fromkeys(d.key for d in metas))
        message = InboxMessage(
            at=at,
            sender=verdict.displayed,
            text=text,
            keys=keys,
            account=head.account,
            flags=flags,
            parts=total,
            missing=missing,
        )
        inbox = self._inboxes.get(head.number)
        if inbox is None:
            inbox = self._inboxes[head.number] = Inbox(head.number, self._keep)
        spoofs = inbox.file(message, verdict.brand)
        if self.events:
            self._filed_events(head, verdict, spoofs, total, complete, text, at, out)
        if complete and self._replies and (verdict.replyable or self._reply_alphanumeric):
            self._reply(head, sub, at, misdelivered)

    def _filed_events(
        self,
        head: _Drop,
        verdict: SenderVerdict,
        spoofs: list[InboxMessage],
        total: int,
        complete: bool,
        text: str,
        at: float,
        out: list[Effect],
    ) -> None:
        """The facts of a message filed in a handset (spoofed thread, opt-out, completed)."""
        for spoof in spoofs:
            out.append(
                NetworkEvent(
                    at,
                    EventKind.SPOOF_DELIVERED_INTO_THREAD,
                    spoof.keys[0],
                    spoof.account,
                    head.number,
                    {"sender": spoof.sender, "brand": verdict.brand},
                )
            )
        opted = self._opted_out.get((head.number, head.account))
        if opted is not None and opted <= at:
            out.append(
                NetworkEvent(
                    at,
                    EventKind.SENT_AFTER_OPT_OUT,
                    head.key,
                    head.account,
                    head.number,
                    {"opted_out_at": opted},
                )
            )
        out.append(
            NetworkEvent(
                at,
                EventKind.MESSAGE_COMPLETED,
                head.key,
                head.account,
                head.number,
                {
                    "sender": verdict.displayed,
                    "parts": total,
                    "complete": complete,
                    "text": text,
                },
            )
        )

    def _reply(self, head: _Drop, sub: Subscriber, at: float, wrong_number: bool) -> None:
        reply = self._two_way.decide(
            head.words[_M_REPLY:],
            probability=sub.reply_probability,
            template=sub.reply_template,
            wrong_number=wrong_number,
        )
        if reply is None:
            return
        when = at + reply.delay_s
        reply_key = f"{head.key}~reply"
        for mo in self._two_way.mo_parts(
            reply,
            at=when,
            key=reply_key,
            in_reply_to=head.key,
            account=head.account,
            source_addr=head.msg.destination_addr,
            destination_addr=head.verdict.displayed,
        ):
            self._push(when, mo)
        if self.events:
            self._push(
                when,
                NetworkEvent(
                    when,
                    EventKind.REPLY_SENT,
                    reply_key,
                    head.account,
                    head.number,
                    {"template": reply.template.name, "in_reply_to": head.key},
                ),
            )
        if reply.template.opt_out:
            self._opted_out.setdefault((head.number, head.account), when)
            if self.events:
                self._push(
                    when,
                    NetworkEvent(
                        when,
                        EventKind.OPTED_OUT,
                        reply_key,
                        head.account,
                        head.number,
                        {"text": reply.template.text, "in_reply_to": head.key},
                    ),
                )

    def handset(self, number: str) -> HandsetView:
        """What a number's handset shows now (threads with texts, times and flags).

        Args:
            number: The number in any accepted form.

        Returns:
            A snapshot; empty when nothing was delivered to it.
        """
        national = self.population.canonical(number) or number
        inbox = self._inboxes.get(national)
        return HandsetView(national, ()) if inbox is None else inbox.view()

    # -----------------------------------------------------------------------------------------
    # Ownership and owner check
    # -----------------------------------------------------------------------------------------

    def subscriber(self, number: str) -> Subscriber | None:
        """The subscriber holding a number, or None.

        Args:
            number: The number in any accepted form.

        Returns:
            The subscriber.
        """
        national = self.population.canonical(number)
        return None if national is None else self.population.get(national)

    def history(self, number: str) -> NumberHistory | None:
        """A number's true ownership timeline (not lagged), or None when unknown.

        Args:
            number: The number in any accepted form.

        Returns:
            The history.
        """
        sub = self.subscriber(number)
        return None if sub is None else sub.history

    def owner_check(self, number: str, reference: date, now: float) -> OwnerCheckResult:
        """他人接続判定 for one number (DOMAIN §6.3 semantics, stale by `db_lag_days`).

        Args:
            number: The number in any accepted form.
            reference: The reference date (when the number was obtained / consent given).
            now: Simulated time of the query.

        Returns:
            changed / unchanged / no_data with the last visible disconnect date.
        """
        return self._db.check(number, self.history(number), reference, now)

    def owner_check_many(
        self, queries: Iterable[tuple[str, date]], now: float
    ) -> list[OwnerCheckResult]:
        """Bulk 他人接続判定.

        Args:
            queries: (number, reference date) pairs.
            now: Simulated time of the query.

        Returns:
            One result per query, in order.
        """
        return [self.owner_check(number, reference, now) for number, reference in queries]

    # -----------------------------------------------------------------------------------------
    # Session faults
    # -----------------------------------------------------------------------------------------

    def session_decision(
        self, now: float, account: str, *, pdus_received: int, bound_at: float
    ) -> SessionDecision:
        """What the server must do to a session now (disconnect, unbind, stall, nothing).

        Args:
            now: Simulated time.
            account: The session's system_id.
            pdus_received: PDUs received on the session so far.
            bound_at: When the session was bound.

        Returns:
            The decision.
        """
        route = self._account(account).route
        return session_decision(
            self._faults, now, account, route, pdus_received=pdus_received, bound_at=bound_at
        )

    def next_session_deadline(self, now: float, account: str) -> float | None:
        """The next instant a time-triggered session fault fires for an account.

        Args:
            now: Simulated time.
            account: The system_id.

        Returns:
            Epoch seconds, or None.
        """
        return next_session_deadline(self._faults, now, account, self._account(account).route)
