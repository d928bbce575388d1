"""The gateway's durable message store: SQLite in WAL mode, the source of truth.

Rule 1: every change of a message's state happens in this file, through `LEGAL_TRANSITIONS`.
Rule 2: this file knows nothing about SMPP sessions; the ESME tells it facts (claimed, part
sent, response, receipt) with the time they happened, and it answers with what is stored.

Theory of operation
-------------------
States of a message (`MessageState`)::

    accept ─> queued ─claim─> submitting ─all parts ROK─> submitted ─receipts─> delivered
      │        ▲   ▲             │  │  │                                ├─> failed
      │        │   └─release─────┘  │  └─requeue(retry_at)─> scheduled  ├─> rejected
      └─> scheduled (due: promote)  └─requeue(now)─> queued             ├─> expired
                                                                         └─> partially_delivered
    queued | scheduled ─> cancelled | expired | failed;   submitting ─> failed | expired
    submitted ─no final receipt in time─> unknown

* ``queued``: durable and due; claimable in order (priority DESC, id ASC), i.e. FIFO per
  priority. ``scheduled``: waiting for ``next_attempt_at`` (deferred start, retry back-off,
  quiet hours); `claim` first promotes the due ones to ``queued``.
* ``submitting``: claimed by a sender (attempts += 1). The claim is committed before the
  caller gets the message, so a PDU is never written for a message the store does not know
  to be in flight. A message held by a bind's throttle backlog stays ``submitting``.
  ``submitted``: every part has an ESME_ROK response and an SMSC id. A late ESME_ROK (the
  message was requeued after a response timeout) that completes the last part moves a
  waiting message straight to ``submitted``, so it is not sent again.
* Terminal: ``delivered``, ``failed``, ``rejected`` (every part's final receipt is REJECTD:
  the network refused the message, e.g. a sender-id registry block), ``expired``,
  ``cancelled``, ``partially_delivered`` (final receipts mixed: at least one part delivered,
  at least one not) and ``unknown`` (no final receipt within the receipt timeout,
  `time_out_receipts`). A permanent submit error is ``failed``, not ``rejected``: only a
  receipt says the network refused it. Terminal states are absorbing: later receipts update
  parts, never the message.
* Parts (`PartState`) exist from their first submit: ``submitting`` -> ``submitted`` (ROK,
  SMSC id) or ``rejected`` (error status); receipts move ``submitted`` to ``delivered`` /
  ``undelivered`` / ``expired``. A retry resends only parts without an SMSC id, so an
  accepted part of a concatenated message is never sent twice.
* Receipts are matched by the *normalised* SMSC message id (``normalize``, pluggable). One
  that arrives before its submit_sm_resp is kept ``pending`` and applied when the response
  lands; `sweep_receipts` marks old pending ones ``unmatched`` (kept, counted, and still
  matched if the response ever arrives). A receipt for a part that is already final is kept
  as ``duplicate`` and changes nothing (idempotent).
* A message's extra optional parameters (`NewMessage.tlvs`, e.g. the harness vendor TLVs)
  are stored with it (``messages.tlvs``, JSON ``[[tag, hex], ...]``) and handed back by
  `claim`, so every part of every attempt carries them, across restarts (schema v2; a v1
  file is migrated in place when opened). Schema v3 added the state ``rejected`` (its
  counters row). Schema v4 dropped the counter triggers (the ops keep the counters, see
  Invariants); v1, v2 and v3 files are migrated in place, their counters recomputed.
  Schema v5 made a part's row the record of its latest submit (bind, sequence number,
  times, response and ``error``) and the ``attempts`` table the log of the submits a resend
  superseded; the attempt log (`MessageStatus.attempt_log`) is the two together, in sending
  order. v1 to v4 files are migrated in place (each part's last attempt row moves to the
  part).

Durability and threading
------------------------
* One writer owns the only write connection. Every mutation is an *op*: a module-level
  function and its arguments (plain data, no closure), put on a queue; the writer takes
  everything queued (up to ``max_batch``), runs the ops within one ``BEGIN IMMEDIATE``
  transaction, COMMITs once, and only then settles the ops (group commit). An op that raises
  is rolled back alone (the batch is re-run with one SAVEPOINT per op); the others commit. A
  failed COMMIT fails every op of the batch. Responses first: a bind's window frees a slot
  only when the part's response is committed, so the part submits and responses of a batch
  that also holds heavier work (receipts, claims, accepts) are committed in a transaction of
  their own and answered before the rest runs, and responses that come while such work runs
  go next in its transaction; they move only ahead of those ops, which commute with them (a
  response never passes a receipt for its own part), never past any other op (see
  `_Batches`).
* Where the writer runs (``writer=``): a thread of this process (``"thread"``, the class's
  default), or a child process (``"process"``, the gateway's default: `gateway.storeproc`)
  so that the SQL work runs on another core, outside the event loop's GIL. Both run the same
  engine (`_Batches`); the child receives each batch's ops as one pickle of ``(fn, args)``
  and sends back each op's result or error (the gateway's errors pickle with their type and
  attributes); the home event loop reads those answers itself and settles its own ops,
  and a reader thread serves sync callers and other loops (see `gateway.storeproc`).
  Callers, futures and callbacks never leave this process. The child stops on EOF when this
  process dies; if the child dies, every op it had not answered fails with
  `StoreClosedError`. A claim and a receipt answer with
  plain data (`_Claim`, `_Receipt`: no dataclass built or pickled per message in the writer)
  that becomes their `ClaimBatch` / `ReceiptOutcome` where it is unpickled (in the
  process that waits for it); from the thread writer, where it is handed to the caller.
* Asyncio callers (`AsyncMessageStore`) await an asyncio future, or pass a callback to the
  ``*_nowait`` variants (the binds' hot path: no task, no future); the thread writer resolves
  them with one ``call_soon_threadsafe`` per loop per batch (the process writer's home loop
  settles its own ops where it reads them); the loop never blocks on sqlite for
  writes. The ops a loop issues during one pass are handed to the writer together at the end
  of the pass, in order, except that the part submits, the responses and the receipts of a
  pass each run as one op at the place of the first of their kind (`_queue_fact` says why
  that is safe): one wake-up of the writer per pass instead of one per PDU. Such a group op
  carries only its facts' arguments; their callbacks stay with the caller (`_settle_group`).
  Synchronous callers (`MessageStore`, for tests and tools) block on a
  `concurrent.futures.Future`. Reads use one read-only connection per calling thread (WAL
  readers never block the writer); the async view runs them in a worker thread.
* ``synchronous=FULL`` (default): the WAL is fsynced at every COMMIT, so an accepted message
  survives power loss and OS crashes; group commit amortises the fsync over the batch.
  ``synchronous=NORMAL``: the WAL is fsynced only at checkpoints; a COMMIT is in the OS page
  cache, so it survives kill -9 of the process but the last transactions can be lost on power
  loss (the file stays consistent either way).
* When a caller's await of `accept` returns, its messages are committed (the invariant of
  ARCHITECTURE.md rule 7). A message leaves the store only by an explicit purge (none yet).

Crash recovery
--------------
`recover` (call it once at start-up, before any claim) moves every ``submitting`` message
back to ``queued`` and counts it: the store cannot know whether the SMSC got the PDUs that
were in flight. The duplicate risk is bounded by what was in flight at the crash: at most the
claimed-but-unanswered messages, i.e. the sum of the binds' windows plus the claim batch
not yet sent. Parts already answered with ESME_ROK are not resent. The count of parts whose
submit was recorded without a response is reported as ``parts_in_doubt`` (exact if the ESME
awaits `record_part_submit` before writing the PDU, a lower bound otherwise): the parts still
``submitting`` (a part's row is its latest submit), whose ``error`` becomes "no response
before restart".

Invariants
----------
* Every state change is an edge of `LEGAL_TRANSITIONS`. Per-message operations check it and
  raise `IllegalTransitionError` (changing nothing) otherwise; the bulk updates (claim,
  promotion, expiry, recovery) select only rows for which their edge is legal.
* The counters table always equals ``SELECT state, COUNT(*) ... GROUP BY state`` (and the
  receipt rows ``GROUP BY status``) at every COMMIT. No triggers: every statement that
  inserts a message or receipt or changes its state notes the change in its op's `_Counts`
  (a bulk statement by its row count), and the op writes them once (`_count`), after its
  last refusal check, so a refused op counts nothing and a failed op is rolled back with
  its counts. Inside `_batched_counts` (a group of facts) they are written once per group.
  Any new statement that changes a state (or deletes a row) must do the same.
* Ids are assigned inside the write transaction; a rolled-back op's ids are never reported.
* One store object per database file per process; several processes may read, and a second
  writer process would serialise on SQLite's lock (``busy_timeout``), not corrupt anything.

Statements per one-part message (`tests/unit/gateway/test_store_sql.py` pins them): accept
one multi-row INSERT per 100 messages (+ the chunk's MAX(id) and counters); claim one read
and one UPDATE for the whole claim (the UPDATE also sets ``first_submitted_at``); part
submit 1 (the guarded INSERT of the part; a resend reads and moves the previous submit to
``attempts``); response 2 (guarded part UPDATE, guarded message UPDATE); receipt 4 (the
part's read from its index, part, receipt, guarded message UPDATE); plus one counters
statement per op (`_write_counts`), once per group inside `_batched_counts`. RETURNING is
used only where it replaces a read of many rows (bulk updates): on a one-row statement it
costs ~2 us more than the statement itself (SQLite 3.40).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import json
import logging
import pickle
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, Literal, NamedTuple, Protocol, TypeVar

from gateway.errors import (
    GatewayConfigError,
    IllegalTransitionError,
    StoreClosedError,
    StoreError,
    UnknownMessageError,
)

T = TypeVar("T")

log = logging.getLogger("smsh.gateway.store")

SCHEMA_VERSION: Final[int] = 5
#: UPDATE ... RETURNING appeared in SQLite 3.35.
MIN_SQLITE: Final[tuple[int, int, int]] = (3, 35, 0)
#: SMPP concatenation carries the part count in one octet (GSM 03.40 §9.2.3.24.1).
MAX_PARTS: Final[int] = 255


class MessageState(StrEnum):
    """Lifecycle state of a message (see the module docstring for the diagram)."""

    QUEUED = "queued"
    SCHEDULED = "scheduled"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    DELIVERED = "delivered"
    FAILED = "failed"
    REJECTED = "rejected"
    """Every part's final receipt was REJECTD (the network refused the message)."""
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    PARTIALLY_DELIVERED = "partially_delivered"
    UNKNOWN = "unknown"
    """Submitted, but no final receipt came within the receipt timeout (`time_out_receipts`)."""


class PartState(StrEnum):
    """State of one submit_sm part of a message."""

    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    REJECTED = "rejected"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    EXPIRED = "expired"


class ReceiptStatus(StrEnum):
    """How a stored delivery receipt relates to our messages."""

    MATCHED = "matched"
    PENDING = "pending"
    UNMATCHED = "unmatched"
    DUPLICATE = "duplicate"


TERMINAL_STATES: Final[frozenset[MessageState]] = frozenset(
    {
        MessageState.DELIVERED,
        MessageState.FAILED,
        MessageState.REJECTED,
        MessageState.EXPIRED,
        MessageState.CANCELLED,
        MessageState.PARTIALLY_DELIVERED,
        MessageState.UNKNOWN,
    }
)

_Q, _S, _SG, _SD = (
    MessageState.QUEUED,
    MessageState.SCHEDULED,
    MessageState.SUBMITTING,
    MessageState.SUBMITTED,
)
_F, _RJ = MessageState.FAILED, MessageState.REJECTED

#: Every allowed (from, to) state change. Anything else is an `IllegalTransitionError`.
LEGAL_TRANSITIONS: Final[frozenset[tuple[MessageState, MessageState]]] = frozenset(
    {
        (_Q, _S),  # defer (quiet hours, operator)
        (_S, _Q),  # promote: next_attempt_at reached
        (_S, _S),  # defer again
        (_Q, _Q),  # defer to a time already past: stays queued
        (_Q, _SG),  # claim
        (_SG, _Q),  # release without sending / requeue now / crash recovery
        (_SG, _S),  # requeue with back-off
        (_SG, _SD),  # every part answered ESME_ROK
        (_Q, _SD),  # a late ESME_ROK completed a message that was requeued after a timeout
        (_S, _SD),
        (_SG, MessageState.FAILED),
        (_SG, MessageState.EXPIRED),
        (_Q, MessageState.FAILED),
        (_S, MessageState.FAILED),
        (_Q, MessageState.EXPIRED),
        (_S, MessageState.EXPIRED),
        (_Q, MessageState.CANCELLED),
        (_S, MessageState.CANCELLED),
        (_SD, MessageState.DELIVERED),
        (_SD, MessageState.FAILED),
        (_SD, MessageState.REJECTED),  # every part REJECTD
        (_SD, MessageState.EXPIRED),
        (_SD, MessageState.PARTIALLY_DELIVERED),
        (_SD, MessageState.UNKNOWN),  # receipt timeout
    }
)

#: Part states that hold an SMSC id: such parts are never resent.
PART_DONE: Final[frozenset[PartState]] = frozenset(
    {PartState.SUBMITTED, PartState.DELIVERED, PartState.UNDELIVERED, PartState.EXPIRED}
)
#: Part states that no receipt changes any more.
PART_FINAL: Final[frozenset[PartState]] = frozenset(
    {PartState.DELIVERED, PartState.UNDELIVERED, PartState.EXPIRED}
)

#: `PART_DONE` and `PART_FINAL` as SQL lists.
_PART_DONE_SQL: Final[str] = ", ".join(f"'{s.value}'" for s in sorted(PART_DONE))
_PART_FINAL_SQL: Final[str] = ", ".join(f"'{s.value}'" for s in sorted(PART_FINAL))

#: Final receipt ``stat`` values (SMPP 3.4 Appendix B) -> part state. Anything else (ENROUTE,
#: ACCEPTD, vendor values) is intermediate: recorded on the part, which stays ``submitted``.
#: ACCEPTD and UNKNOWN are final in the spec; ACCEPTD is treated as intermediate because
#: aggregators use it for "accepted by the SMSC".
RECEIPT_FINAL_STATS: Final[Mapping[str, PartState]] = {
    "DELIVRD": PartState.DELIVERED,
    "EXPIRED": PartState.EXPIRED,
    "UNDELIV": PartState.UNDELIVERED,
    "REJECTD": PartState.UNDELIVERED,  # the message aggregates to `rejected` if all are
    "DELETED": PartState.UNDELIVERED,
    "UNKNOWN": PartState.UNDELIVERED,
}


def check_transition(
    message_id: int, current: MessageState, target: MessageState, action: str
) -> None:
    """Raise unless ``current -> target`` is in `LEGAL_TRANSITIONS`.

    Args:
        message_id: For the error.
        current: The state now.
        target: The requested state.
        action: The operation asking (for the error).

    Raises:
        IllegalTransitionError: The change is not allowed.
    """
    if (current, target) not in LEGAL_TRANSITIONS:
        raise IllegalTransitionError(message_id, current.value, target.value, action)


def default_normalize(smsc_message_id: str) -> str:
    """Default SMSC message-id normalisation: trim, lowercase, strip leading zeros.

    Args:
        smsc_message_id: The id as the SMSC wrote it (in a response or a receipt).

    Returns:
        The lookup key (``"0"`` for an all-zero id, ``""`` for an empty one).
    """
    value = smsc_message_id.strip().lower()
    return value.lstrip("0") or ("0" if value else "")


# --------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to accept.

    Raises:
        ValueError: empty source/destination or a part count outside 1..255.
    """

    source: str
    """Sender ID or number (source_addr)."""
    destination: str
    """Recipient MSISDN (destination_addr), already normalised by the caller."""
    text: str
    """The whole message text (the planner splits it into parts)."""
    parts_total: int = 1
    """Number of submit_sm parts the planner made."""
    client_ref: str | None = None
    """The submitter's own reference."""
    encoding: str | None = None
    """Chosen encoding (``gsm7``, ``ucs2``, ``latin1``)."""
    profile: str | None = None
    """Segmentation profile name."""
    method: str | None = None
    """Concatenation method (``udh``, ``sar``, ``payload``)."""
    concat_ref: int | None = None
    """Concatenation reference number shared by the parts."""
    priority: int = 0
    """Higher goes first (SMPP priority_flag 0-3 by convention)."""
    validity_deadline: float | None = None
    """Epoch seconds after which the message must not be sent."""
    not_before: float | None = None
    """Epoch seconds before which the message must not be sent (deferred start)."""
    route: str | None = None
    """Route hint for the dispatcher."""
    bind: str | None = None
    """Bind hint for the dispatcher."""
    campaign_id: str | None = None
    """Owning campaign, if any."""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    """Free JSON-serialisable data stored with the message."""
    tlvs: tuple[tuple[int, bytes], ...] = ()
    """Extra optional parameters ``(tag, value)`` sent on every part's submit_sm."""

    def __post_init__(self) -> None:
        if not self.source or not self.destination:
            raise ValueError("source and destination must not be empty")
        if not 1 <= self.parts_total <= MAX_PARTS:
            raise ValueError(f"parts_total must be within 1..{MAX_PARTS}, got {self.parts_total}")
        for tag, value in self.tlvs:
            if not 0 <= tag <= 0xFFFF or len(value) > 0xFFFF:
                raise ValueError(f"TLV 0x{tag:04X}: tag or length outside 2 octets")


class ClaimedMessage(NamedTuple):
    """A message handed to a sender by `claim` (now ``submitting``).

    A named tuple (immutable, read by attribute), not a frozen dataclass: the gateway builds
    one per claimed message from the writer's answer, and a frozen slots dataclass costs
    ~1.9 us to construct against ~0.15 us here (`_claim_batch`).
    """

    id: int
    """Store id."""
    source: str
    """Sender."""
    destination: str
    """Recipient."""
    text: str
    """Full text."""
    parts_total: int
    """Number of parts."""
    pending_parts: tuple[int, ...]
    """Part numbers (1-based) still to send: parts answered ESME_ROK earlier are left out."""
    attempt: int
    """This attempt's number (1 for the first claim)."""
    priority: int
    """Priority."""
    client_ref: str | None
    """Submitter reference."""
    encoding: str | None
    """Encoding."""
    profile: str | None
    """Segmentation profile."""
    method: str | None
    """Concatenation method."""
    concat_ref: int | None
    """Concatenation reference."""
    validity_deadline: float | None
    """Validity deadline."""
    route: str | None
    """Route hint."""
    bind: str | None
    """Bind hint."""
    campaign_id: str | None
    """Campaign."""
    metadata: dict[str, Any]
    """Stored metadata."""
    tlvs: tuple[tuple[int, bytes], ...] = ()
    """Extra optional parameters for every part's submit_sm."""


@dataclass(frozen=True, slots=True)
class ClaimBatch:
    """What one `claim` did."""

    messages: tuple[ClaimedMessage, ...]
    """Claimed (now ``submitting``), highest priority first, FIFO within a priority."""
    expired: tuple[int, ...]
    """Ids found past their validity deadline and expired instead of claimed."""
    promoted: int
    """``scheduled`` messages that became due and were moved to ``queued``."""


@dataclass(frozen=True, slots=True)
class PartRecord:
    """One part as stored."""

    seq: int
    """Part number, 1-based."""
    total: int
    """Parts in the message."""
    state: PartState
    """Part state."""
    attempt_no: int
    """Attempt of the last submit."""
    bind: str | None
    """Bind of the last submit."""
    sequence_number: int | None
    """SMPP sequence number of the last submit."""
    smsc_message_id: str | None
    """Id from submit_sm_resp as received."""
    smsc_id_norm: str | None
    """Normalised id used for receipt lookup."""
    submitted_at: float | None
    """Time of the last submit."""
    resp_at: float | None
    """Time of the last response."""
    command_status: int | None
    """Status of the last response."""
    receipt_stat: str | None
    """Last receipt ``stat``."""
    receipt_err: str | None
    """Last receipt ``err``."""
    receipt_at: float | None
    """When the last receipt was recorded."""


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One submit_sm PDU sent for a part."""

    part_seq: int
    """Part number."""
    attempt_no: int
    """Message attempt it belongs to."""
    bind: str | None
    """Bind that sent it."""
    sequence_number: int | None
    """SMPP sequence number."""
    sent_at: float
    """Send time."""
    command_status: int | None
    """Response status (None: no response)."""
    resp_at: float | None
    """Response time."""
    error: str | None
    """Why it ended without a response, if known."""


@dataclass(frozen=True, slots=True)
class MessageSummary:
    """A message row without parts and attempts (for lists)."""

    id: int
    """Store id."""
    state: MessageState
    """State."""
    source: str
    """Sender."""
    destination: str
    """Recipient."""
    parts_total: int
    """Number of parts."""
    priority: int
    """Priority."""
    attempts: int
    """Claims so far."""
    created_at: float
    """Accept time."""
    updated_at: float
    """Last change."""
    next_attempt_at: float
    """When it is (or was) due."""
    last_error: str | None
    """Last failure reason."""
    client_ref: str | None
    """Submitter reference."""
    campaign_id: str | None
    """Campaign."""


@dataclass(frozen=True, slots=True)
class MessageStatus:
    """Everything stored about one message."""

    id: int
    """Store id."""
    state: MessageState
    """State."""
    source: str
    """Sender."""
    destination: str
    """Recipient."""
    text: str
    """Text."""
    parts_total: int
    """Number of parts."""
    priority: int
    """Priority."""
    attempts: int
    """Claims so far."""
    recoveries: int
    """Times this message was requeued by crash recovery (duplicate risk)."""
    created_at: float
    """Accept time."""
    updated_at: float
    """Last change."""
    next_attempt_at: float
    """Due time."""
    validity_deadline: float | None
    """Validity deadline."""
    first_submitted_at: float | None
    """When the first claim that sent a part was made (set by the claim, cleared again by a
    `MessageStore.release`, which undoes a claim that sent nothing): the first submit_sm
    follows it within the claim's round trip."""
    done_at: float | None
    """When it reached a terminal state."""
    last_error: str | None
    """Last failure reason."""
    client_ref: str | None
    """Submitter reference."""
    encoding: str | None
    """Encoding."""
    profile: str | None
    """Segmentation profile."""
    method: str | None
    """Concatenation method."""
    concat_ref: int | None
    """Concatenation reference."""
    route: str | None
    """Route hint."""
    bind: str | None
    """Bind hint."""
    claimed_bind: str | None
    """Bind that made the last claim."""
    campaign_id: str | None
    """Campaign."""
    metadata: dict[str, Any]
    """Stored metadata."""
    parts: tuple[PartRecord, ...]
    """Parts submitted so far."""
    attempt_log: tuple[AttemptRecord, ...]
    """Every PDU sent, in order."""


@dataclass(frozen=True, slots=True)
class RespOutcome:
    """What `record_resp` stored."""

    part_state: PartState
    """The part's new state."""
    message_state: MessageState
    """The message's state afterwards."""
    receipts_applied: int
    """Receipts that had arrived before this response and were matched now."""
    pending_matched: tuple[tuple[str, str | None], ...] = ()
    """``(stat, err)`` of those that were still ``pending`` (not yet swept to ``unmatched``),
    in arrival order."""


@dataclass(frozen=True, slots=True)
class ReceiptOutcome:
    """What `record_receipt` stored."""

    status: ReceiptStatus
    """Matched, pending (no part with that id yet) or duplicate."""
    receipt_id: int
    """Row id in the receipts table."""
    message_id: int | None
    """Matched message, if any."""
    part_seq: int | None
    """Matched part, if any."""
    message_state: MessageState | None
    """The matched message's state afterwards."""


@dataclass(frozen=True, slots=True)
class MoRecord:
    """A stored mobile-originated message."""

    id: int
    """Row id."""
    source: str
    """Handset number."""
    destination: str
    """Our number or short code."""
    text: str
    """Text (reassembled)."""
    parts: int
    """Number of parts it arrived in."""
    received_at: float
    """Receive time."""
    linked_message_id: int | None
    """The last message we sent to that handset, if any."""


@dataclass(frozen=True, slots=True)
class Suppression:
    """A suppressed number."""

    number: str
    """The number."""
    reason: str
    """Why (``opt_out``, ``owner_changed``...)."""
    at: float
    """Since when."""


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """What `recover` did at start-up."""

    requeued: tuple[int, ...]
    """Messages that were ``submitting`` and are ``queued`` again (possible duplicates)."""
    parts_in_doubt: int
    """Parts whose submit was recorded without a response."""


@dataclass(frozen=True, slots=True)
class WriterStats:
    """Group-commit counters of the writer thread."""

    ops: int
    """Ops executed."""
    batches: int
    """Transactions committed (or attempted)."""
    largest_batch: int
    """Most ops in one transaction."""
    failed_ops: int
    """Ops that raised (rolled back alone)."""
    failed_commits: int
    """Transactions whose COMMIT failed."""


# --------------------------------------------------------------------------------------------
# Schema

_SCHEMA: Final[str] = """
CREATE TABLE messages (
    id                 INTEGER PRIMARY KEY,
    client_ref         TEXT,
    source             TEXT NOT NULL,
    destination        TEXT NOT NULL,
    text               TEXT NOT NULL,
    encoding           TEXT,
    profile            TEXT,
    method             TEXT,
    concat_ref         INTEGER,
    parts_total        INTEGER NOT NULL CHECK (parts_total BETWEEN 1 AND 255),
    state              TEXT NOT NULL,
    priority           INTEGER NOT NULL DEFAULT 0,
    created_at         REAL NOT NULL,
    updated_at         REAL NOT NULL,
    validity_deadline  REAL,
    next_attempt_at    REAL NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0,
    recoveries         INTEGER NOT NULL DEFAULT 0,
    last_error         TEXT,
    route              TEXT,
    bind               TEXT,
    claimed_bind       TEXT,
    campaign_id        TEXT,
    metadata           TEXT NOT NULL DEFAULT '{}',
    first_submitted_at REAL,
    done_at            REAL,
    tlvs               TEXT
);
CREATE INDEX idx_messages_queued ON messages (priority DESC, id) WHERE state = 'queued';
CREATE INDEX idx_messages_scheduled ON messages (next_attempt_at) WHERE state = 'scheduled';
CREATE INDEX idx_messages_validity ON messages (validity_deadline)
    WHERE validity_deadline IS NOT NULL AND state IN ('queued', 'scheduled');
CREATE INDEX idx_messages_sent_to ON messages (destination, id)
    WHERE first_submitted_at IS NOT NULL;
CREATE INDEX idx_messages_client_ref ON messages (client_ref) WHERE client_ref IS NOT NULL;
CREATE INDEX idx_messages_campaign ON messages (campaign_id, id) WHERE campaign_id IS NOT NULL;
CREATE INDEX idx_messages_submitted ON messages (id) WHERE state = 'submitted';

CREATE TABLE parts (
    message_id      INTEGER NOT NULL REFERENCES messages (id),
    seq             INTEGER NOT NULL,
    total           INTEGER NOT NULL,
    state           TEXT NOT NULL,
    attempt_no      INTEGER NOT NULL,
    bind            TEXT,
    sequence_number INTEGER,
    smsc_message_id TEXT,
    smsc_id_norm    TEXT,
    submitted_at    REAL,
    resp_at         REAL,
    command_status  INTEGER,
    receipt_stat    TEXT,
    receipt_err     TEXT,
    receipt_at      REAL,
    error           TEXT,
    PRIMARY KEY (message_id, seq)
) WITHOUT ROWID;
CREATE INDEX idx_parts_smsc_id ON parts (smsc_id_norm, resp_at) WHERE smsc_id_norm IS NOT NULL;

CREATE TABLE attempts (
    id              INTEGER PRIMARY KEY,
    message_id      INTEGER NOT NULL REFERENCES messages (id),
    part_seq        INTEGER NOT NULL,
    attempt_no      INTEGER NOT NULL,
    bind            TEXT,
    sequence_number INTEGER,
    sent_at         REAL NOT NULL,
    command_status  INTEGER,
    resp_at         REAL,
    error           TEXT
);
CREATE INDEX idx_attempts_message ON attempts (message_id, part_seq, attempt_no);

CREATE TABLE receipts (
    id              INTEGER PRIMARY KEY,
    smsc_message_id TEXT NOT NULL,
    smsc_id_norm    TEXT NOT NULL,
    stat            TEXT NOT NULL,
    err             TEXT,
    raw             TEXT,
    done_at         REAL,
    received_at     REAL NOT NULL,
    status          TEXT NOT NULL,
    message_id      INTEGER REFERENCES messages (id),
    part_seq        INTEGER,
    matched_at      REAL
);
CREATE INDEX idx_receipts_waiting ON receipts (smsc_id_norm)
    WHERE status IN ('pending', 'unmatched');
CREATE INDEX idx_receipts_pending_age ON receipts (received_at) WHERE status = 'pending';

CREATE TABLE mo (
    id                INTEGER PRIMARY KEY,
    source            TEXT NOT NULL,
    destination       TEXT NOT NULL,
    text              TEXT NOT NULL,
    parts             INTEGER NOT NULL,
    received_at       REAL NOT NULL,
    linked_message_id INTEGER REFERENCES messages (id),
    metadata          TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE suppression (
    number TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    at     REAL NOT NULL
) WITHOUT ROWID;

CREATE TABLE counters (
    kind TEXT NOT NULL,
    key  TEXT NOT NULL,
    n    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
"""

_MESSAGE_COLUMNS: Final[str] = (
    "id, client_ref, source, destination, text, encoding, profile, method, concat_ref,"
    " parts_total, state, priority, created_at, updated_at, validity_deadline,"
    " next_attempt_at, attempts, recoveries, last_error, route, bind, claimed_bind,"
    " campaign_id, metadata, first_submitted_at, done_at, tlvs"
)
#: What `_op_claim` reads of a queued message: the columns `_claimed` hands on, and the
#: ``attempts`` and ``first_submitted_at`` it decides by (indices in `_claimed`). Measured:
#: the 19 columns instead of all 27 (`_MESSAGE_COLUMNS`) cost ~0.5 us per claimed message
#: less (the row tuples that the fetch builds, SQLite 3.40).
_CLAIM_COLUMNS: Final[str] = (
    "id, source, destination, text, parts_total, attempts, priority, client_ref, encoding,"
    " profile, method, concat_ref, validity_deadline, route, bind, campaign_id, metadata,"
    " tlvs, first_submitted_at"
)
_PART_COLUMNS: Final[str] = (
    "seq, total, state, attempt_no, bind, sequence_number, smsc_message_id, smsc_id_norm,"
    " submitted_at, resp_at, command_status, receipt_stat, receipt_err, receipt_at"
)
_SUMMARY_COLUMNS: Final[str] = (
    "id, state, source, destination, parts_total, priority, attempts, created_at, updated_at,"
    " next_attempt_at, last_error, client_ref, campaign_id"
)


#: The triggers that kept ``counters`` up to date before schema v4 (dropped by the migration).
_OLD_TRIGGERS: Final[tuple[str, ...]] = (
    "trg_messages_ins",
    "trg_messages_upd",
    "trg_messages_del",
    "trg_receipts_ins",
    "trg_receipts_upd",
)


def _create_schema(conn: sqlite3.Connection) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return
    if version in (1, 2, 3, 4):
        conn.execute("BEGIN IMMEDIATE")
        try:
            _migrate(conn, version)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return
    if version != 0:
        raise StoreError(f"unsupported store schema version {version} (expected {SCHEMA_VERSION})")
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Not executescript(): it would COMMIT on its own, outside our transaction.
        for statement in _split_sql(_SCHEMA):
            conn.execute(statement)
        conn.executemany(
            "INSERT INTO counters (kind, key, n) VALUES (?, ?, 0)",
            [("message", s.value) for s in MessageState]
            + [("receipt", s.value) for s in ReceiptStatus],
        )
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {str(r[1]) for r in conn.execute(f"PRAGMA table_info({table})")}


def _migrate(conn: sqlite3.Connection, version: int) -> None:
    """Bring a v1/v2/v3/v4 file to the current schema, in the caller's transaction."""
    if version == 1:  # v2 added messages.tlvs (NULL: none) and the state ``unknown``
        conn.execute("ALTER TABLE messages ADD COLUMN tlvs TEXT")
        conn.execute(
            "CREATE INDEX IF NOT EXISTS idx_messages_submitted ON messages (id)"
            " WHERE state = 'submitted'"
        )
    if version <= 3:
        _migrate_counters(conn)
    # v5: a part's row is the record of its latest submit (with ``parts.error``), and the
    # attempts table keeps only the submits a resend superseded (`_op_part_submit`). Up to
    # v4 every submit wrote an attempt row as well, so each part's last attempt row (highest
    # id) is its latest submit: its error moves to the part, and the row goes.
    if "error" not in _columns(conn, "parts"):
        conn.execute("ALTER TABLE parts ADD COLUMN error TEXT")
    # v5: receipts find their part's latest answer from the index alone (`_op_receipt`)
    conn.execute("DROP INDEX IF EXISTS idx_parts_smsc_id")
    conn.execute(
        "CREATE INDEX idx_parts_smsc_id ON parts (smsc_id_norm, resp_at)"
        " WHERE smsc_id_norm IS NOT NULL"
    )
    conn.execute(
        "UPDATE parts SET error = (SELECT a.error FROM attempts a WHERE a.id = (SELECT MAX(id)"
        " FROM attempts WHERE message_id = parts.message_id AND part_seq = parts.seq))"
    )
    conn.execute(
        "DELETE FROM attempts WHERE id IN (SELECT MAX(id) FROM attempts"
        " GROUP BY message_id, part_seq)"
    )


def _migrate_counters(conn: sqlite3.Connection) -> None:
    """v3 added the state ``rejected``; v4 dropped the counter triggers (the ops keep the
    counters, `_count`): every row exists, and each is recomputed from GROUP BY."""
    for trigger in _OLD_TRIGGERS:
        conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    conn.executemany(
        "INSERT OR IGNORE INTO counters (kind, key, n) VALUES (?, ?, 0)",
        [("message", s.value) for s in MessageState]
        + [("receipt", s.value) for s in ReceiptStatus],
    )
    conn.execute(
        "UPDATE counters SET n = (SELECT COUNT(*) FROM messages WHERE state = counters.key)"
        " WHERE kind = 'message'"
    )
    conn.execute(
        "UPDATE counters SET n = (SELECT COUNT(*) FROM receipts WHERE status = counters.key)"
        " WHERE kind = 'receipt'"
    )


def _split_sql(script: str) -> list[str]:
    """Split a script into statements (`sqlite3.complete_statement`: a trigger body, should
    the schema get one again, stays whole)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements


# --------------------------------------------------------------------------------------------
# The writer: one group-commit engine (`_Batches`), run by a thread (`_Writer`) or by a child
# process (`gateway.storeproc`).

_STOP: Final = object()


#: What an op's caller gets when its batch is settled: `(result, None)` or `(None, error)`.
OpCallback = Callable[[Any, BaseException | None], None]


@dataclass(slots=True)
class _Op:
    """One write: ``fn(conn, *args)`` in the writer's transaction, and who waits for it.

    ``fn`` is a module-level function and ``args`` plain data, so the call pickles (the
    process writer sends ``(fn, args)`` to its child); the waiting side (futures, loop,
    callback) stays in the calling process."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    sync_future: concurrent.futures.Future[Any] | None = None
    loop: asyncio.AbstractEventLoop | None = None
    async_future: asyncio.Future[Any] | None = None
    callback: OpCallback | None = None
    ok: bool = False
    value: Any = None
    error: BaseException | None = None
    by_thread: bool = False
    """Set by the process writer (`gateway.storeproc`): no loop that reads the writer's
    socket waits for this op (a sync op, or an op of another loop), so its reader thread
    reads until the op is answered."""


#: What `_settle` hands over: the waiting future or callback, ``ok``, the value or error.
_Item = tuple[asyncio.Future[Any] | OpCallback, bool, Any]


def _target(op: _Op) -> asyncio.Future[Any] | OpCallback:
    target = op.async_future if op.async_future is not None else op.callback
    assert target is not None
    return target


def _settle(items: list[_Item]) -> None:
    """Settle items on the thread of their loop, in order (futures of cancelled tasks are
    skipped: their op still ran)."""
    for target, ok, value in items:
        if not isinstance(target, asyncio.Future):
            # A callback op (`AsyncMessageStore.*_nowait`): no task, no future, called in order.
            try:
                if ok:
                    target(value, None)
                else:
                    target(None, value)
            except Exception:
                log.exception("smsh.gateway.store.callback_failed")
            continue
        if target.done():  # the awaiting task was cancelled: the op still ran
            continue
        if ok:
            target.set_result(value)
        else:
            target.set_exception(value)


def _deliver(batch: Sequence[_Op], keep: asyncio.AbstractEventLoop | None = None) -> list[_Item]:
    """Hand settled ops (``ok``/``value``/``error`` set) to their callers, in order: sync
    futures at once, asyncio futures and callbacks with one ``call_soon_threadsafe`` per
    loop for the whole batch; except the ops of loop `keep` (the caller runs on its thread):
    their items are returned, in order, for the caller to `_settle` (no wake-up)."""
    kept: list[_Item] = []
    by_loop: dict[asyncio.AbstractEventLoop, list[_Item]] = {}
    for op in batch:
        if op.sync_future is not None:
            if op.ok:
                op.sync_future.set_result(op.value)
            else:
                assert op.error is not None
                op.sync_future.set_exception(op.error)
        elif op.loop is not None:
            target = op.async_future if op.async_future is not None else op.callback
            if target is not None:
                item = (target, op.ok, op.value if op.ok else op.error)
                if op.loop is keep:
                    kept.append(item)
                else:
                    by_loop.setdefault(op.loop, []).append(item)
    for loop, items in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, items)
        except RuntimeError:  # the caller's loop is closed: nobody is waiting
            log.debug("smsh.gateway.store.loop_closed")
    return kept


def _settled(ops: list[_Op], picks: list[int] | None) -> None:
    """The thread writer's `_Finish`: deliver the settled ops."""
    _deliver(ops if picks is None else [ops[i] for i in picks])


def _fail(
    ops: Sequence[_Op], error: BaseException, keep: asyncio.AbstractEventLoop | None = None
) -> list[_Item]:
    """Settle ops that will never run with `error` (`_deliver`: the items of loop `keep` are
    returned for the caller to settle)."""
    for op in ops:
        op.ok, op.value, op.error = False, None, error
    return _deliver(ops, keep)


def _open_writer(path: str, *, synchronous: str, cache_kib: int) -> sqlite3.Connection:
    """The write connection: WAL, `synchronous`, foreign keys, schema created or migrated."""
    conn = _connect(path, cache_kib=cache_kib, read_only=False)
    try:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"could not enable WAL on {path} (journal_mode={mode})")
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA journal_size_limit = 67108864")
        _create_schema(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _close_writer(conn: sqlite3.Connection) -> None:
    """Checkpoint the WAL into the file (best effort) and close the write connection."""
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error:  # pragma: no cover - best effort at shutdown
        log.warning("smsh.gateway.store.checkpoint_failed", exc_info=True)
    conn.close()


#: Where a writer takes its next item: ``get(None)`` blocks, ``get(t)`` waits up to `t`
#: seconds and raises `queue.Empty`. An item is an `_Op`, a list of them, or `_STOP`.
_Get = Callable[[float | None], Any]


#: What a writer does with the ops of a transaction once they are settled: ``finish(ops,
#: None)`` for all of `ops`; ``finish(batch, picks)`` for ``batch[i] for i in picks`` only, the
#: others of `batch` following in a later call (see `_Batches`, "responses first").
_Finish = Callable[[list[_Op], "list[int] | None"], None]

#: Asked by `_Batches._run_ops` before an op (its list, its position): True when it has
#: replaced the ops not run yet (see `_Batches.run`).
_Preempt = Callable[[list[_Op], int], bool]

#: A batch is split ("responses first") only if what it would leave for the second
#: transaction weighs at least this much (`_weight`: facts, claimed or accepted rows).
SPLIT_MIN_REST: Final[int] = 64
#: How many transactions of responses in a row may go ahead of ops taken before them (a split
#: batch's rest) before those run (see `_Batches`).
MAX_OVERTAKES: Final[int] = 1


class _Batches:
    """The group-commit engine both writers run: it takes ops from `get`, runs them in
    batches on the write connection, and hands every executed batch to `finish` (the thread
    writer settles the callers there; the writer process sends the results back).

    Responses first: the window of a bind frees a slot only when the part's response is
    committed, so a response should not wait for heavier work (receipts, claims, accepts).
    Three rules, all keeping every op's answer after its own COMMIT:

    * A batch whose rest would weigh at least `SPLIT_MIN_REST` (`_weight`) commits its part
      submits and responses in a transaction of their own and answers them, then runs the
      rest (`_early`). Only the part submits and responses before the first op that is not
      a receipt, a claim or an accept move, and only ahead of those three, which commute
      with them: a receipt concerns another part (a response never overtakes a receipt
      that carries its SMSC id: that receipt came first and stays pending until the
      response lands); a claim takes only queued messages, whose parts have no submit in
      flight; an accept's ids are not known to anyone yet. Everything else keeps its order.
    * The rest runs with what came meanwhile behind it, and its responses may go first
      again: at most `MAX_OVERTAKES` times in a row, then the rest runs.
    * A transaction of only such ops (`_commutes`) looks, before each op after its first,
      for messages that came meanwhile; if they bring part submits or responses that may
      go first (by the first rule), those run next in this transaction, ahead of its ops
      not run yet, and are answered with what ran at its COMMIT; the ops not run go next,
      with what else came behind them. On the hot path a response thus waits for the op
      in progress, not for a whole batch of other work.

    Args:
        conn: The write connection (see `_open_writer`).
        max_batch: Most ops per transaction (a list item may exceed it: it stays whole).
        linger: Seconds to wait for more ops after the first of a batch.
        finish: Called with the ops of each transaction once they are settled
            (``ok``/``value``/``error``; see `_Finish`).
        split: Commit the part submits and responses of a batch first (see above).
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        max_batch: int,
        linger: float,
        finish: _Finish,
        split: bool = True,
    ) -> None:
        self.conn = conn
        self._max_batch = max_batch
        self._linger = linger
        self._finish_batch = finish
        self._split = split
        self._ops = 0
        self._batches = 0
        self._largest = 0
        self._failed_ops = 0
        self._failed_commits = 0

    def stats(self) -> WriterStats:
        """The counters so far."""
        return WriterStats(
            self._ops, self._batches, self._largest, self._failed_ops, self._failed_commits
        )

    def run(self, get: _Get) -> None:
        """Execute batches until `get` returns `_STOP` (what was taken with it still runs)."""
        stopping = False
        rest: list[_Op] = []  # ops taken and not run yet, in order
        came: list[_Op] = []  # ops taken while a transaction ran (`responses_came`)
        overtaken = 0  # transactions of responses since the last one that ran other ops
        cut: list[tuple[int, list[_Op], list[int]]] = []  # what `responses_came` changed

        def responses_came(ops: list[_Op], done: int) -> bool:
            """Before ``ops[done]`` (``done >= 1``): take what came meanwhile; if responses
            may go first, replace the ops not run yet by them (they run in this transaction,
            the others wait) and return True."""
            nonlocal stopping
            if stopping:
                return False
            news: list[_Op] = []
            stopping = self._fill(news, get, wait=False)
            came.extend(news)
            if not any((op.args[0] if op.fn is _op_group else op.fn) in _FIRST for op in news):
                return False
            tail = ops[done:] + came
            picks = _early(tail, min_rest=0)
            if picks is None:
                return False
            cut.append((done, tail, picks))
            ops[done:] = [tail[j] for j in picks]
            came.clear()
            return True

        while True:
            if rest:
                batch, rest = rest, []
                if not stopping:  # what came meanwhile joins it
                    stopping = self._fill(batch, get, wait=False)
            else:
                if stopping:
                    break
                first = get(None)
                if first is _STOP:
                    break
                batch = list(first) if isinstance(first, list) else [first]
                stopping = self._fill(batch, get, wait=True)
            picks = _early(batch) if self._split and overtaken <= MAX_OVERTAKES else None
            if picks is not None:
                self._transaction([batch[i] for i in picks])
                self._finish_batch(batch, picks)
                chosen = set(picks)
                rest = [op for i, op in enumerate(batch) if i not in chosen]
                overtaken += 1
                continue
            overtaken = 0
            preempt = responses_came if self._split and _commutes(batch) else None
            self._transaction(list(batch), preempt)
            if cut:  # responses came and ran in this transaction, ahead of the ops not run
                done, tail, picks = cut.pop()
                self._finish_batch(batch[:done] + tail, [*range(done), *(done + j for j in picks)])
                chosen = set(picks)
                rest = [op for j, op in enumerate(tail) if j not in chosen]
                overtaken = MAX_OVERTAKES + 1  # the ops not run go next
            else:
                self._finish_batch(batch, None)
            if came:
                rest += came
                came = []

    def _fill(self, batch: list[_Op], get: _Get, *, wait: bool) -> bool:
        """Add queued ops to `batch` (after waiting up to ``linger`` for them if `wait`);
        returns True if the stop sentinel was seen."""
        # I/O pacing of the writer shell, not domain time: the monotonic clock is right here.
        deadline = time.monotonic() + (self._linger if wait else 0.0)
        while len(batch) < self._max_batch:
            try:
                item = get(max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return False
            if item is _STOP:
                return True
            if isinstance(item, list):
                batch.extend(item)
            else:
                batch.append(item)
        return False

    def _transaction(self, ops: list[_Op], preempt: _Preempt | None = None) -> None:
        """Run `ops` in one transaction and COMMIT; each op ends settled (``ok``/``value``,
        or ``error``). `preempt` (asked once before each op after the first, until it says
        True) may replace the ops not run yet (see `run`); `ops` is then what ran.

        Optimistic first pass without savepoints (ops rarely fail). If one raises, the whole
        transaction is rolled back and the ops run again with one SAVEPOINT each, so the
        failing op is rolled back alone. Ops are re-runnable: they read what they need from
        the database and have no side effects outside it; no op is settled before COMMIT.
        """
        conn = self.conn
        self._batches += 1
        if self._begin(ops):
            if self._run_ops(conn, ops, savepoints=False, preempt=preempt):
                conn.execute("ROLLBACK")
                if len(ops) == 1:  # it failed alone: nothing to commit
                    self._failed_ops += 1
                    self._count(len(ops))
                    return
                for op in ops:
                    op.ok, op.value, op.error = False, None, None
                if not self._begin(ops):
                    self._count(len(ops))
                    return
                self._run_ops(conn, ops, savepoints=True)
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._failed_commits += 1
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:  # pragma: no cover - nothing more can be done
                    log.warning("smsh.gateway.store.rollback_failed", exc_info=True)
                _failed(ops, StoreError(f"commit failed: {exc}"), exc)
        self._count(len(ops))

    def _count(self, ran: int) -> None:
        self._ops += ran
        self._largest = max(self._largest, ran)

    def _begin(self, ops: list[_Op]) -> bool:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            _failed(ops, StoreError(f"cannot begin a write transaction: {exc}"), exc)
            return False
        return True

    def _run_ops(
        self,
        conn: sqlite3.Connection,
        ops: list[_Op],
        *,
        savepoints: bool,
        preempt: _Preempt | None = None,
    ) -> bool:
        """Run the ops (see `_transaction` for `preempt`); returns True if one failed (without
        savepoints: stops there)."""
        failed = False
        i = 0
        while i < len(ops):
            if preempt is not None and i and preempt(ops, i):
                preempt = None
            op = ops[i]
            i += 1
            if savepoints:
                conn.execute("SAVEPOINT op")
            try:
                op.value = op.fn(conn, *op.args)
                op.ok = True
            except Exception as exc:
                op.error = exc
                failed = True
                if not savepoints:
                    return True
                self._failed_ops += 1
                conn.execute("ROLLBACK TO op")
            if savepoints:
                conn.execute("RELEASE op")
        return failed


def _failed(ops: list[_Op], failure: StoreError, cause: BaseException) -> None:
    failure.__cause__ = cause
    for op in ops:
        op.ok, op.value, op.error = False, None, failure


def _early(batch: Sequence[_Op], *, min_rest: int = SPLIT_MIN_REST) -> list[int] | None:
    """The positions of the ops `_Batches` commits ahead of the rest of `batch` (the part
    submit and response groups before the first op that does not commute with them), or
    None when the batch runs whole: nothing goes first, or the rest weighs less than
    `min_rest`. A response does not commute with a receipt for its own part (that
    receipt came first: it stays pending until the response lands), so a response whose
    SMSC id a receipt before it carries stays in order, with everything after it."""
    picks: list[int] = []
    rest = 0
    receipt_ids: set[str] | None = None  # of the receipts passed over, once a response needs it
    receipts: list[_Op] = []
    for i, op in enumerate(batch):
        kind = op.args[0] if op.fn is _op_group else op.fn
        if kind in _FIRST:
            if kind is _op_resp and receipts:
                if receipt_ids is None:
                    receipt_ids = set()
                for receipt in receipts:
                    receipt_ids.update(_receipt_ids(receipt))
                receipts.clear()
                if _answers_one_of(op, receipt_ids):
                    rest += sum(_weight(later) for later in batch[i:])
                    break
            picks.append(i)
        elif kind in _COMMUTING:
            rest += _weight(op)
            if kind is _op_receipt:
                receipts.append(op)
        else:  # it and everything after it stay in order, after the picks
            rest += sum(_weight(later) for later in batch[i:])
            break
    if not picks or rest < min_rest:
        return None
    return picks


def _facts(op: _Op) -> Sequence[_Fact]:
    """The facts of a group op, or the one fact of a plain op (its arguments)."""
    return op.args[1] if op.fn is _op_group else (op.args,)


def _receipt_ids(op: _Op) -> Iterator[str]:
    """The normalised SMSC ids of a receipt op's facts (see `_op_receipt`'s arguments)."""
    for normalize, smsc_message_id, *_ in _facts(op):
        try:
            yield normalize(smsc_message_id)
        except Exception:  # the op reports it; here it only may not be overtaken
            yield smsc_message_id


def _answers_one_of(op: _Op, receipt_ids: set[str]) -> bool:
    """Whether a response op (see `_op_resp`'s arguments) carries one of `receipt_ids`, or an
    id that does not normalise (assume it does)."""
    if not receipt_ids:
        return False
    for normalize, _mid, _part, _now, _status, smsc_message_id, *_ in _facts(op):
        if smsc_message_id is None:
            continue
        try:
            if normalize(smsc_message_id) in receipt_ids:
                return True
        except Exception:
            return True
    return False


def _commutes(batch: Sequence[_Op]) -> bool:
    """Whether every op of `batch` is a `_FIRST` or a `_COMMUTING` one (alone or grouped)."""
    for op in batch:
        kind = op.args[0] if op.fn is _op_group else op.fn
        if kind not in _FIRST and kind not in _COMMUTING:
            return False
    return True


def _weight(op: _Op) -> int:
    """About how much work `op` is, in facts: a group's facts, an accept's rows, a claim's
    limit, else 1."""
    fn = op.fn
    if fn is _op_group or fn is _op_accept:
        return len(op.args[-1])
    if fn is _op_claim:
        return int(op.args[1])
    return 1


class _Writer:
    """The thread writer: a thread running `_Batches` over an in-process op queue.

    The process writer (`gateway.storeproc.ProcessWriter`) has the same interface."""

    def __init__(
        self,
        path: str,
        *,
        synchronous: str,
        max_batch: int,
        linger: float,
        cache_kib: int,
    ) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self.conn = _open_writer(path, synchronous=synchronous, cache_kib=cache_kib)
        self._batches = _Batches(self.conn, max_batch=max_batch, linger=linger, finish=_settled)
        self._thread = threading.Thread(target=self._run, name="smsh-store-writer", daemon=True)
        self._thread.start()

    def stats(self) -> WriterStats:
        """Group-commit counters."""
        return self._batches.stats()

    def submit(self, op: _Op | list[_Op]) -> None:
        """Queue one op, or a list of ops that enter the same or consecutive batches in order."""
        with self._lock:
            if self._closed:
                raise StoreClosedError("the message store is closed")
            self._queue.put(op)

    @property
    def closed(self) -> bool:
        """True once closed (or the writer stopped): `submit` raises `StoreClosedError`."""
        return self._closed

    @property
    def pid(self) -> None:
        """No process of its own."""
        return None

    def close(self) -> None:
        """Run what is queued, stop the thread, checkpoint and close the connection."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join()

    def _get(self, timeout: float | None) -> Any:
        if timeout is None:
            return self._queue.get()
        return self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait()

    def _run(self) -> None:
        try:
            self._batches.run(self._get)
        except BaseException as exc:  # pragma: no cover - defensive: keep callers from hanging
            log.exception("smsh.gateway.store.writer_crashed")
            with self._lock:
                self._closed = True
            self._fail_queued(exc)
        finally:
            _close_writer(self.conn)

    def _fail_queued(self, exc: BaseException) -> None:  # pragma: no cover - defensive
        pending: list[_Op] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, list):
                pending.extend(item)
            elif item is not _STOP:
                pending.append(item)
        _fail(pending, StoreClosedError(f"the store writer stopped: {exc!r}"))


class _WriterLike(Protocol):
    """What `MessageStore` needs of a writer (`_Writer`, `gateway.storeproc.ProcessWriter`)."""

    @property
    def closed(self) -> bool: ...

    @property
    def pid(self) -> int | None: ...

    def submit(self, op: _Op | list[_Op]) -> None: ...

    def stats(self) -> WriterStats: ...

    def close(self) -> None: ...


def _check_picklable(name: str, fn: Callable[[str], str]) -> None:
    """Refuse a normaliser the writer process could not receive (a lambda, a local function)."""
    try:
        data = pickle.dumps(fn)
        pickle.loads(data)
    except Exception as exc:
        raise GatewayConfigError(
            f"{fn!r} cannot be sent to the writer process ({exc}); use a module-level"
            " function or functools.partial of one (or writer='thread')",
            field=name,
        ) from exc
    if b"__main__" in data:  # the writer process runs another __main__: it cannot import it
        raise GatewayConfigError(
            f"{fn!r} refers to __main__, which the writer process cannot import; define it in"
            " an importable module (or writer='thread')",
            field=name,
        )


def _connect(path: str, *, cache_kib: int, read_only: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=5.0, cached_statements=256
    )
    conn.execute(f"PRAGMA cache_size = -{cache_kib}")
    conn.execute("PRAGMA busy_timeout = 5000")
    if read_only:
        conn.execute("PRAGMA query_only = ON")
    return conn


# --------------------------------------------------------------------------------------------
# Ops: run in the writer thread inside the batch transaction.


_JSON: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _dumps(metadata: Mapping[str, Any]) -> str:
    if not metadata:
        return "{}"
    try:
        return _JSON.encode(dict(metadata))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"metadata is not JSON-serialisable: {exc}") from exc


def _dump_tlvs(tlvs: Sequence[tuple[int, bytes]]) -> str | None:
    if not tlvs:
        return None
    return _JSON.encode([[tag, value.hex()] for tag, value in tlvs])


def _load_tlvs(text: str | None) -> tuple[tuple[int, bytes], ...]:
    if not text:
        return ()
    return tuple((int(tag), bytes.fromhex(value)) for tag, value in json.loads(text))


#: Counter changes of one op: ``(kind, key) -> delta`` (kind ``message`` or ``receipt``).
_Counts = dict[tuple[str, str], int]

#: Connections whose counter changes are being collected for one write (`_batched_counts`).
_BATCHES: dict[sqlite3.Connection, _Counts] = {}


def _moved(counts: _Counts, kind: str, old: str, new: str, n: int = 1) -> None:
    """Note that `n` rows of `kind` went from `old` to `new` (nothing when they are equal)."""
    if old != new and n:
        counts[(kind, old)] = counts.get((kind, old), 0) - n
        counts[(kind, new)] = counts.get((kind, new), 0) + n


def _added(counts: _Counts, kind: str, key: str, n: int = 1) -> None:
    """Note that `n` rows of `kind` were inserted in `key`."""
    if n:
        counts[(kind, key)] = counts.get((kind, key), 0) + n


def _count(conn: sqlite3.Connection, counts: _Counts) -> None:
    """Apply an op's counter changes: at once, or into the `_batched_counts` collection.

    Every statement that inserts a message or receipt or changes its state (status) notes the
    change in its op's `_Counts`, and the op calls this once, after its last refusal check
    (a refused op has written nothing, so it counts nothing); a failing op is rolled back
    with its counter changes. So ``counters`` equals ``GROUP BY state`` at every COMMIT."""
    batch = _BATCHES.get(conn)
    if batch is None:
        _write_counts(conn, counts)
        return
    for key, delta in counts.items():
        batch[key] = batch.get(key, 0) + delta


#: ``_COUNT_SQL[k]``: one statement adding to `k` counters rows (an upsert: each row exists
#: from `_create_schema`; a missing one would be created with the delta, also right).
_COUNT_SQL: Final[tuple[str, ...]] = tuple(
    "INSERT INTO counters (kind, key, n) VALUES "
    + ", ".join(["(?, ?, ?)"] * k)
    + " ON CONFLICT (kind, key) DO UPDATE SET n = n + excluded.n"
    for k in range(len(MessageState) + len(ReceiptStatus) + 1)
)


def _write_counts(conn: sqlite3.Connection, counts: _Counts) -> None:
    # One statement for all changed rows. Measured (SQLite 3.40, thread CPU per call): this
    # multi-row upsert 1.5 / 2.4 / 2.9 us for 1 / 2 / 3 rows, against 1.4 / 2.6 / 4.0 us for
    # one primary-key UPDATE per row (executemany) and ~30 us for one multi-row UPDATE
    # (VALUES join, CASE or OR of keys). The v3 triggers cost ~11 us per one-part message.
    values = [x for (kind, key), delta in counts.items() if delta for x in (kind, key, delta)]
    if values:
        conn.execute(_COUNT_SQL[len(values) // 3], values)


@contextlib.contextmanager
def _batched_counts(conn: sqlite3.Connection) -> Iterator[None]:
    """Collect the counter changes of the ops run inside and write them in one statement
    when the block ends normally; on an exception nothing is written (the caller's op fails
    and is rolled back whole). For `_op_group`: a group of facts then costs one counters
    write instead of one per fact (the refused facts count nothing: they raise before
    writing). Nesting is a no-op (the outer block writes)."""
    if conn in _BATCHES:
        yield
        return
    counts: _Counts = {}
    _BATCHES[conn] = counts
    try:
        yield
    finally:
        del _BATCHES[conn]
    _write_counts(conn, counts)


def _message_row(m: NewMessage, now: float) -> tuple[Any, ...]:
    deferred = m.not_before is not None and m.not_before > now
    state = MessageState.SCHEDULED if deferred else MessageState.QUEUED
    due = m.not_before if deferred and m.not_before is not None else now
    return (
        m.client_ref,
        m.source,
        m.destination,
        m.text,
        m.encoding,
        m.profile,
        m.method,
        m.concat_ref,
        m.parts_total,
        state.value,
        m.priority,
        now,
        now,
        m.validity_deadline,
        due,
        m.route,
        m.bind,
        m.campaign_id,
        _dumps(m.metadata),
        _dump_tlvs(m.tlvs),
    )


_INSERT_MESSAGES: Final[str] = (
    "INSERT INTO messages (id, client_ref, source, destination, text, encoding, profile,"
    " method, concat_ref, parts_total, state, priority, created_at, updated_at,"
    " validity_deadline, next_attempt_at, route, bind, campaign_id, metadata, tlvs) VALUES "
)
_MESSAGE_VALUES: Final[str] = "(" + ", ".join(["?"] * 21) + ")"
#: Rows per multi-row INSERT of `_op_accept` (21 parameters each; SQLite allows 32766). One
#: fixed size keeps the statement cache at two entries; the rest goes row by row.
_ACCEPT_ROWS: Final[int] = 100
_INSERT_MESSAGES_MANY: Final[str] = _INSERT_MESSAGES + ", ".join([_MESSAGE_VALUES] * _ACCEPT_ROWS)


def _op_accept(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> list[int]:
    # One INSERT per `_ACCEPT_ROWS` rows: ~1 us per row less than executemany (5.3 against
    # 6.4 us per row, SQLite 3.40), and one statement instead of a hundred.
    first = int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM messages").fetchone()[0]) + 1
    ids = list(range(first, first + len(rows)))
    whole = len(rows) - len(rows) % _ACCEPT_ROWS
    for start in range(0, whole, _ACCEPT_ROWS):
        conn.execute(
            _INSERT_MESSAGES_MANY,
            [value for i in range(start, start + _ACCEPT_ROWS) for value in (first + i, *rows[i])],
        )
    if whole < len(rows):
        conn.executemany(
            _INSERT_MESSAGES + _MESSAGE_VALUES,
            [(first + i, *rows[i]) for i in range(whole, len(rows))],
        )
    counts: _Counts = {}
    for row in rows:
        _added(counts, "message", row[9])  # the state column of `_message_row`
    _count(conn, counts)
    return ids


def _state_of(conn: sqlite3.Connection, message_id: int) -> MessageState:
    row = conn.execute("SELECT state FROM messages WHERE id = ?", (message_id,)).fetchone()
    if row is None:
        raise UnknownMessageError(message_id)
    return MessageState(row[0])


def _set_state(
    conn: sqlite3.Connection,
    message_id: int,
    target: MessageState,
    now: float,
    action: str,
    extra_sql: str = "",
    extra_args: tuple[Any, ...] = (),
    counts: _Counts | None = None,
) -> MessageState:
    current = _state_of(conn, message_id)
    _transition(conn, message_id, current, target, now, action, extra_sql, extra_args, counts)
    return current


def _transition(
    conn: sqlite3.Connection,
    message_id: int,
    current: MessageState,
    target: MessageState,
    now: float,
    action: str,
    extra_sql: str = "",
    extra_args: tuple[Any, ...] = (),
    counts: _Counts | None = None,
) -> None:
    """`_set_state` for a caller that has just read `current` in this transaction.

    The counter change goes into `counts` (the caller's op writes it, `_count`), or is
    written at once when `counts` is None."""
    check_transition(message_id, current, target, action)
    if target in TERMINAL_STATES:
        conn.execute(
            f"UPDATE messages SET state = ?, updated_at = ?, done_at = ?{extra_sql} WHERE id = ?",
            (target.value, now, now, *extra_args, message_id),
        )
    else:
        conn.execute(
            f"UPDATE messages SET state = ?, updated_at = ?{extra_sql} WHERE id = ?",
            (target.value, now, *extra_args, message_id),
        )
    if current is not target:
        if counts is None:
            _count(conn, {("message", current.value): -1, ("message", target.value): 1})
        else:
            _moved(counts, "message", current.value, target.value)


#: A claim as `_op_claim` computes it: the claimed messages as tuples of `ClaimedMessage`'s
#: fields in order (highest priority first, FIFO within a priority), the ids expired on the
#: way, and how many scheduled messages were promoted.
_RawClaim = tuple[list[tuple[Any, ...]], tuple[int, ...], int]


def _claim_batch(raw: _RawClaim) -> ClaimBatch:
    """The `ClaimBatch` of a `_RawClaim`."""
    messages, expired, promoted = raw
    new = tuple.__new__
    return ClaimBatch(tuple([new(ClaimedMessage, m) for m in messages]), expired, promoted)


class _Claim:
    """What `_op_claim` answers: a `_RawClaim` that becomes its `ClaimBatch` where it is
    unpickled (`__reduce__`), i.e. in the caller's process when a writer process sends it,
    or by `_claimed_batch` for the thread writer. So the writer builds no dataclass per
    message (a frozen one costs ~1.9 us to build, ~0.6 us more to pickle with its
    reducer), and the caller's process builds each message once, as it did when it
    unpickled them."""

    __slots__ = ("raw",)

    def __init__(self, raw: _RawClaim) -> None:
        self.raw = raw

    def __reduce__(self) -> tuple[Callable[[_RawClaim], ClaimBatch], tuple[_RawClaim]]:
        return _claim_batch, (self.raw,)


def _claimed_batch(answer: _Claim | ClaimBatch) -> ClaimBatch:
    """The `ClaimBatch` of an `_op_claim` answer (built already if a writer process sent it)."""
    return answer if isinstance(answer, ClaimBatch) else _claim_batch(answer.raw)


class _Receipt:
    """What `_op_receipt` answers: the fields of its `ReceiptOutcome`, which it becomes where
    it is unpickled (`__reduce__`: the caller's process, from a writer process), or by
    `_receipt_outcome` for the thread writer (as `_Claim` does for a claim). Measured: the
    writer then spends ~0.5 us less per receipt (a frozen dataclass costs ~0.6 us to build
    and ~0.4 us to pickle with its reducer; this one ~0.15 and ~0.3)."""

    __slots__ = ("fields",)

    def __init__(
        self, fields: tuple[ReceiptStatus, int, int | None, int | None, MessageState | None]
    ) -> None:
        self.fields = fields

    def __reduce__(self) -> tuple[type[ReceiptOutcome], tuple[Any, ...]]:
        return ReceiptOutcome, self.fields


def _receipt_outcome(answer: _Receipt | ReceiptOutcome) -> ReceiptOutcome:
    """The `ReceiptOutcome` of an `_op_receipt` answer (built already if a writer process
    sent it)."""
    return answer if isinstance(answer, ReceiptOutcome) else ReceiptOutcome(*answer.fields)


def _op_claim(conn: sqlite3.Connection, now: float, limit: int, bind: str | None) -> _Claim:
    counts: _Counts = {}
    promoted = conn.execute(
        "UPDATE messages SET state = 'queued', updated_at = ?"
        " WHERE state = 'scheduled' AND next_attempt_at <= ?",
        (now, now),
    ).rowcount
    _moved(counts, "message", "scheduled", "queued", promoted)
    claimed: list[tuple[Any, ...]] = []
    expired: list[int] = []
    dead_waiting = conn.execute(
        "SELECT 1 FROM messages INDEXED BY idx_messages_validity WHERE validity_deadline"
        " IS NOT NULL AND validity_deadline <= ? AND state IN ('queued', 'scheduled')"
        " AND state = 'queued' LIMIT 1",
        (now,),
    ).fetchone()
    if dead_waiting is None and limit > 0:
        # The common case: no queued message is past its deadline, so the first `limit`
        # queued ones are claimed: one read of them and one UPDATE of the same rows (this
        # transaction holds the write lock). Measured: ~0.6 us per message less than one
        # UPDATE ... RETURNING (SQLite 3.40), and the rows read are as before the claim.
        rows = conn.execute(
            f"SELECT {_CLAIM_COLUMNS} FROM messages INDEXED BY idx_messages_queued"
            " WHERE state = 'queued' ORDER BY priority DESC, id LIMIT ?",
            (limit,),
        ).fetchall()
        if rows:
            conn.execute(
                "UPDATE messages SET state = 'submitting', attempts = attempts + 1,"
                " claimed_bind = ?1, updated_at = ?2, first_submitted_at ="
                " COALESCE(first_submitted_at, ?2) WHERE id IN (SELECT id FROM messages"
                " INDEXED BY idx_messages_queued WHERE state = 'queued'"
                " ORDER BY priority DESC, id LIMIT ?3)",
                (bind, now, len(rows)),
            )
        _moved(counts, "message", "queued", "submitting", len(rows))
        for r in rows:
            _take(conn, _claimed(conn, r), claimed, now, counts)
    while dead_waiting is not None and len(claimed) < limit:
        # Some queued message is past its deadline: scan in claim order, expiring the dead
        # ones met on the way (those behind the claimed ones wait for `expire_overdue`).
        rows = conn.execute(
            f"SELECT {_CLAIM_COLUMNS} FROM messages INDEXED BY idx_messages_queued"
            " WHERE state = 'queued' ORDER BY priority DESC, id LIMIT ?",
            (limit - len(claimed),),
        ).fetchall()
        if not rows:
            break
        live = [r for r in rows if r[12] is None or r[12] > now]  # validity_deadline
        dead = [(now, now, r[0]) for r in rows if not (r[12] is None or r[12] > now)]
        if dead:
            conn.executemany(
                "UPDATE messages SET state = 'expired', updated_at = ?, done_at = ?,"
                " last_error = 'validity deadline passed while queued' WHERE id = ?",
                dead,
            )
            _moved(counts, "message", "queued", "expired", len(dead))
            expired.extend(d[2] for d in dead)
        if live:
            conn.executemany(
                "UPDATE messages SET state = 'submitting', attempts = attempts + 1,"
                " claimed_bind = ?1, updated_at = ?2, first_submitted_at ="
                " COALESCE(first_submitted_at, ?2) WHERE id = ?3",
                [(bind, now, r[0]) for r in live],
            )
            _moved(counts, "message", "queued", "submitting", len(live))
            for r in live:
                _take(conn, _claimed(conn, r), claimed, now, counts)
    _count(conn, counts)
    claimed.sort(key=lambda m: (-m[7], m[0]))  # (priority DESC, id)
    return _Claim((claimed, tuple(expired), int(promoted)))


def _take(
    conn: sqlite3.Connection,
    message: tuple[Any, ...],
    claimed: list[tuple[Any, ...]],
    now: float,
    counts: _Counts,
) -> None:
    if message[5]:  # pending_parts
        claimed.append(message)
    else:  # every part already answered ROK (defensive: _op_resp completes these)
        _transition(
            conn,
            message[0],
            MessageState.SUBMITTING,
            MessageState.SUBMITTED,
            now,
            "claim",
            counts=counts,
        )


#: ``_ALL_PARTS[n]``: the part numbers of an `n`-part message (one shared tuple per `n`).
_ALL_PARTS: Final[tuple[tuple[int, ...], ...]] = tuple(
    tuple(range(1, n + 1)) for n in range(MAX_PARTS + 1)
)


def _claimed(conn: sqlite3.Connection, r: tuple[Any, ...]) -> tuple[Any, ...]:
    """The claimed message of row `r` (`_CLAIM_COLUMNS`, as before the claim: this claim's
    attempt is ``attempts + 1``): `ClaimedMessage`'s fields, in order (see `_Claim`)."""
    total = r[4]
    if r[18] is None:
        # No claim set first_submitted_at, or a release cleared it because no part had a
        # row (`_op_release`): nothing was ever submitted, so every part is pending.
        pending = _ALL_PARTS[total]
    else:
        done = {
            int(row[0])
            for row in conn.execute(
                "SELECT seq FROM parts WHERE message_id = ? AND state IN (?, ?, ?, ?)",
                (r[0], *(s.value for s in sorted(PART_DONE))),
            )
        }
        pending = tuple(s for s in range(1, total + 1) if s not in done)
    metadata = r[16]
    tlvs = r[17]
    # In the field order of `ClaimedMessage` (its columns are read in that order).
    return (
        r[0],
        r[1],
        r[2],
        r[3],
        total,
        pending,
        r[5] + 1,
        r[6],
        r[7],
        r[8],
        r[9],
        r[10],
        r[11],
        r[12],
        r[13],
        r[14],
        r[15],
        {} if metadata == "{}" else json.loads(metadata),  # most have none (`_dumps`)
        () if tlvs is None else _load_tlvs(tlvs),
    )


def _op_release(
    conn: sqlite3.Connection, message_id: int, now: float, until: float | None, reason: str | None
) -> MessageState:
    row = conn.execute(
        "SELECT state, attempts FROM messages WHERE id = ?", (message_id,)
    ).fetchone()
    if row is None:
        raise UnknownMessageError(message_id)
    target = MessageState.SCHEDULED if until is not None and until > now else MessageState.QUEUED
    current = MessageState(row[0])
    if current is not MessageState.SUBMITTING:
        raise IllegalTransitionError(message_id, current.value, target.value, "release")
    sent = conn.execute(  # a part's row carries the attempt of its latest submit
        "SELECT 1 FROM parts WHERE message_id = ? AND attempt_no = ? LIMIT 1",
        (message_id, row[1]),
    ).fetchone()
    if sent is not None:
        raise IllegalTransitionError(
            message_id, current.value, target.value, "release (a part was already sent: requeue)"
        )
    due = until if until is not None and until > now else now
    _set_state(
        conn,
        message_id,
        target,
        now,
        "release",
        ", attempts = attempts - 1, next_attempt_at = ?, last_error = COALESCE(?, last_error),"
        # the claim set it; undone with the claim unless a part was ever sent
        " first_submitted_at = CASE WHEN EXISTS (SELECT 1 FROM parts WHERE message_id = ?)"
        " THEN first_submitted_at END",
        (due, reason, message_id),
    )
    return target


def _op_requeue(
    conn: sqlite3.Connection, message_id: int, now: float, retry_at: float | None, error: str | None
) -> MessageState:
    target = (
        MessageState.SCHEDULED if retry_at is not None and retry_at > now else MessageState.QUEUED
    )
    current = _state_of(conn, message_id)
    if current is not MessageState.SUBMITTING:
        raise IllegalTransitionError(message_id, current.value, target.value, "requeue")
    due = retry_at if retry_at is not None and retry_at > now else now
    _set_state(
        conn,
        message_id,
        target,
        now,
        "requeue",
        ", next_attempt_at = ?, last_error = COALESCE(?, last_error)",
        (due, error),
    )
    return target


def _op_defer(
    conn: sqlite3.Connection, message_id: int, until: float, now: float, reason: str | None
) -> None:
    current = _state_of(conn, message_id)
    if current not in (MessageState.QUEUED, MessageState.SCHEDULED):
        raise IllegalTransitionError(message_id, current.value, "scheduled", "defer")
    target = MessageState.SCHEDULED if until > now else MessageState.QUEUED
    _set_state(
        conn,
        message_id,
        target,
        now,
        "defer",
        ", next_attempt_at = ?, last_error = COALESCE(?, last_error)",
        (max(until, now), reason),
    )


def _op_finalise(
    conn: sqlite3.Connection,
    message_id: int,
    state: MessageState,
    now: float,
    error: str | None,
) -> MessageState:
    if state not in TERMINAL_STATES:
        raise ValueError(f"finalise needs a terminal state, got {state.value!r}")
    return _set_state(
        conn, message_id, state, now, "finalise", ", last_error = COALESCE(?, last_error)", (error,)
    )


def _op_part_submit(
    conn: sqlite3.Connection,
    message_id: int,
    part_seq: int,
    now: float,
    bind: str | None,
    sequence_number: int | None,
) -> None:
    # The hot path (one call per submit_sm): one guarded INSERT checks everything (the
    # message is ``submitting``, the part number exists) and writes the part, whose row is
    # the record of its latest submit; the message row is not touched (the claim set
    # ``first_submitted_at``). A part that has a row already (a resend) takes the slower
    # way (`_part_resubmit`), as does a refused submit, which reads before writing anything
    # (see `_op_group`). No RETURNING: it costs ~2 us per statement (SQLite 3.40).
    written = conn.execute(
        "INSERT INTO parts (message_id, seq, total, state, attempt_no, bind, sequence_number,"
        " submitted_at) SELECT id, ?2, parts_total, 'submitting', attempts, ?3, ?4, ?5"
        " FROM messages WHERE id = ?1 AND state = 'submitting' AND ?2 BETWEEN 1 AND parts_total"
        " ON CONFLICT (message_id, seq) DO NOTHING",
        (message_id, part_seq, bind, sequence_number, now),
    ).rowcount
    if not written:
        _part_resubmit(conn, message_id, part_seq, now, bind, sequence_number)


def _part_resubmit(
    conn: sqlite3.Connection,
    message_id: int,
    part_seq: int,
    now: float,
    bind: str | None,
    sequence_number: int | None,
) -> None:
    """`_op_part_submit` of a part that has a row (or a refused one: raises before writing).

    A part without an SMSC id (no response, or an error response) may be sent again: its
    previous submit moves to the attempts table (with its response, if any), and the part's
    row becomes the new submit's."""
    row = conn.execute(
        "SELECT m.state, m.parts_total, p.state FROM messages m"
        " LEFT JOIN parts p ON p.message_id = m.id AND p.seq = ? WHERE m.id = ?",
        (part_seq, message_id),
    ).fetchone()
    if row is None:
        raise UnknownMessageError(message_id)
    state, total = MessageState(row[0]), int(row[1])
    if state is not MessageState.SUBMITTING:
        raise IllegalTransitionError(message_id, state.value, "submitting", "record_part_submit")
    if not 1 <= part_seq <= total:
        raise StoreError(f"message {message_id} has {total} parts; there is no part {part_seq}")
    if row[2] is None or row[2] in PART_DONE:  # None: the INSERT above would have written it
        raise IllegalTransitionError(
            message_id, f"part {part_seq} {row[2]}", "submitting", "record_part_submit"
        )
    conn.execute(
        "INSERT INTO attempts (message_id, part_seq, attempt_no, bind, sequence_number, sent_at,"
        " command_status, resp_at, error) SELECT message_id, seq, attempt_no, bind,"
        " sequence_number, submitted_at, command_status, resp_at, error FROM parts"
        " WHERE message_id = ? AND seq = ?",
        (message_id, part_seq),
    )
    conn.execute(
        "UPDATE parts SET state = 'submitting', attempt_no = (SELECT attempts FROM messages"
        " WHERE id = ?1), bind = ?3, sequence_number = ?4, submitted_at = ?5, resp_at = NULL,"
        " command_status = NULL, error = NULL WHERE message_id = ?1 AND seq = ?2",
        (message_id, part_seq, bind, sequence_number, now),
    )


#: One fact of a group op (see `MessageStore._queue_fact`): the op's arguments after the
#: connection. The facts' callbacks stay with the caller (`_settle_group`), so a group op is
#: plain data that a writer process can run.
_Fact = tuple[Any, ...]


def _op_group(
    conn: sqlite3.Connection, run: Callable[..., Any], facts: Sequence[_Fact]
) -> list[tuple[Any, BaseException | None]]:
    """``run(conn, *args)`` for each fact, in order. A fact refused by the op (a `StoreError`)
    is answered with its error and the others go on: the grouped ops (`_op_part_submit`,
    `_op_resp`, `_op_receipt`) raise it only before they write anything, so nothing of a
    refused fact is kept. A database error fails the whole group op (the writer then reruns
    the batch with savepoints, and every fact of the group gets the error).

    An op listed in `_GROUP_EXTRA` gets extra trailing arguments, computed once for the
    group from the connection and the facts (e.g. `_receipts_waiting` for `_op_resp`)."""
    extra_of = _GROUP_EXTRA.get(run)
    extra: tuple[Any, ...] = () if extra_of is None else extra_of(conn, facts)
    results: list[tuple[Any, BaseException | None]] = []
    with _batched_counts(conn):  # one counters write for the group (refused facts count nothing)
        for args in facts:
            try:
                value = run(conn, *args, *extra)
            except StoreError as exc:
                results.append((None, exc))
            else:
                results.append((value, None))
    return results


def _settle_group(
    callbacks: Sequence[OpCallback],
    results: list[tuple[Any, BaseException | None]] | None,
    error: BaseException | None,
) -> None:
    """The callback of a group op: answer each fact's caller with its own result, or every
    caller with the group's `error`. A receipt's answer that the thread writer sent as it
    is (`_Receipt`) becomes its `ReceiptOutcome` here."""
    for i, callback in enumerate(callbacks):
        try:
            if results is None:
                callback(None, error)
            else:
                value, failure = results[i]
                if type(value) is _Receipt:
                    value = ReceiptOutcome(*value.fields)
                callback(value, failure)
        except Exception:
            log.exception("smsh.gateway.store.callback_failed")


def _resp_refusal(
    conn: sqlite3.Connection, message_id: int, part_seq: int
) -> IllegalTransitionError | UnknownMessageError | None:
    """Why a response to ``message_id`` part ``part_seq`` cannot be recorded (no such
    message, or the part has no outstanding submit), or None when it can."""
    row = conn.execute(
        "SELECT p.state FROM messages m LEFT JOIN parts p ON p.message_id = m.id AND p.seq = ?"
        " WHERE m.id = ?",
        (part_seq, message_id),
    ).fetchone()
    if row is None:
        return UnknownMessageError(message_id)
    if row[0] is None or PartState(row[0]) is not PartState.SUBMITTING:
        have = "no submit recorded" if row[0] is None else row[0]
        return IllegalTransitionError(
            message_id, f"part {part_seq} {have}", "submitted/rejected", "record_resp"
        )
    return None


#: Most SMSC ids per ``IN (...)`` list of `_receipts_waiting`.
_IN_CHUNK: Final[int] = 500


def _receipts_waiting(conn: sqlite3.Connection, facts: Sequence[_Fact]) -> tuple[frozenset[str]]:
    """``(the normalised SMSC ids of this group's ESME_ROK responses that have a receipt
    waiting)``, the extra argument of a group of `_op_resp` facts: the responses of one
    group never add waiting receipts (they only match them), so one look per group answers
    for all of its facts (see `_op_group`), and a response whose id is not in the set skips
    its own look. Usually no receipt waits at all (one indexed probe); otherwise one
    ``IN`` query per 500 responses finds the ids that have one: a receipt kept
    ``unmatched`` (for ever) does not cost every later response a look of its own
    (measured: one pending receipt anywhere cost +1 statement and ~3 us per message)."""
    row = conn.execute(
        "SELECT 1 FROM receipts WHERE status IN ('pending', 'unmatched') LIMIT 1"
    ).fetchone()
    if row is None:
        return (frozenset(),)
    # The same ids `_op_resp` computes (its arguments: normalize, message_id, part_seq,
    # now, command_status, smsc_message_id, error).
    norms = sorted({f[0](f[5]) for f in facts if f[4] == 0 and f[5]} - {""})
    found: set[str] = set()
    for start in range(0, len(norms), _IN_CHUNK):
        chunk = norms[start : start + _IN_CHUNK]
        found.update(
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT smsc_id_norm FROM receipts INDEXED BY idx_receipts_waiting"
                f" WHERE smsc_id_norm IN ({', '.join('?' * len(chunk))})"
                " AND status IN ('pending', 'unmatched')",
                chunk,
            )
        )
    return (frozenset(found),)


def _op_resp(
    conn: sqlite3.Connection,
    normalize: Callable[[str], str],
    message_id: int,
    part_seq: int,
    now: float,
    command_status: int,
    smsc_message_id: str | None,
    error: str | None,
    waiting: Container[str] | None = None,
) -> RespOutcome:
    # The hot path (one call per response): the part's UPDATE checks that a submit is
    # outstanding (WHERE state = 'submitting') instead of a read before it; only a refused
    # response reads more (`_resp_refusal`), before anything is written. The message of a
    # one-part submit moves to ``submitted`` by one guarded UPDATE; the others read. No
    # RETURNING on these (~2 us each). ``waiting``: the ids that have a receipt waiting
    # among the caller's responses (one look per group, `_receipts_waiting`): a response
    # whose id is not in it skips its own look (None: look).
    norm = normalize(smsc_message_id) if command_status == 0 and smsc_message_id else ""
    if command_status == 0 and not norm:  # checked before writing (see `_op_group`)
        raise _resp_refusal(conn, message_id, part_seq) or StoreError(
            f"message {message_id} part {part_seq}: ESME_ROK without a message_id"
        )
    # The part's row is its outstanding submit's record (`_op_part_submit`): the response
    # completes it there, with no attempt row to write.
    if command_status != 0:
        answered = conn.execute(
            "UPDATE parts SET state = 'rejected', resp_at = ?, command_status = ?, error = ?"
            " WHERE message_id = ? AND seq = ? AND state = 'submitting'",
            (now, command_status, error, message_id, part_seq),
        ).rowcount
    else:
        answered = conn.execute(
            "UPDATE parts SET state = 'submitted', resp_at = ?, command_status = 0,"
            " smsc_message_id = ?, smsc_id_norm = ?, error = ?"
            " WHERE message_id = ? AND seq = ? AND state = 'submitting'",
            (now, smsc_message_id, norm, error, message_id, part_seq),
        ).rowcount
    if not answered:
        # The UPDATE matched nothing: the part has no outstanding submit (nothing written).
        raise _resp_refusal(conn, message_id, part_seq) or StoreError(
            f"message {message_id} part {part_seq}: no outstanding submit"
        )
    if command_status != 0:
        state = conn.execute(
            "UPDATE messages SET last_error = ?, updated_at = ? WHERE id = ? RETURNING state",
            (error or f"command_status 0x{command_status:08X}", now, message_id),
        ).fetchone()[0]
        return RespOutcome(PartState.REJECTED, MessageState(state), 0)
    counts: _Counts = {}
    if conn.execute(  # a one-part message in flight: this part was the only one
        "UPDATE messages SET state = 'submitted', updated_at = ?"
        " WHERE id = ? AND state = 'submitting' AND parts_total = 1",
        (now, message_id),
    ).rowcount:
        state = _SD
        counts[("message", "submitting")] = -1
        counts[("message", "submitted")] = 1
    else:  # several parts, or a late ROK (the message was requeued after a timeout)
        row = conn.execute(
            "SELECT state, parts_total FROM messages WHERE id = ?", (message_id,)
        ).fetchone()
        state = MessageState(row[0])
        # the edges queued/scheduled/submitting -> submitted of `LEGAL_TRANSITIONS`
        if state in (MessageState.SUBMITTING, MessageState.QUEUED, MessageState.SCHEDULED):
            done = conn.execute(
                f"SELECT COUNT(*) FROM parts WHERE message_id = ? AND state IN ({_PART_DONE_SQL})",
                (message_id,),
            ).fetchone()[0]
            if int(done) >= int(row[1]):
                _transition(conn, message_id, state, _SD, now, "record_resp", counts=counts)
                state = MessageState.SUBMITTED
    if waiting is not None and norm not in waiting:
        _count(conn, counts)
        return _RESP_SUBMITTED[state]
    found = conn.execute(
        "SELECT id, stat, err, received_at, status FROM receipts WHERE smsc_id_norm = ?"
        " AND status IN ('pending', 'unmatched') ORDER BY id",
        (norm,),
    ).fetchall()
    applied = 0
    pending: list[tuple[str, str | None]] = []
    for receipt_id, stat, err, received_at, was in found:
        _apply_receipt(
            conn, receipt_id, message_id, part_seq, stat, err, received_at, now, was, counts
        )
        applied += 1
        if was == ReceiptStatus.PENDING.value:
            pending.append((stat, err))
    if applied:
        # Without a receipt applied this part is not final, so the message cannot be.
        state = _aggregate(conn, message_id, now, counts)
    _count(conn, counts)
    return RespOutcome(PartState.SUBMITTED, state, applied, tuple(pending))


#: The outcome of an ESME_ROK that matched no waiting receipt, one per message state: the
#: common answer, shared (it is frozen), so a writer process pickles each once per batch
#: (the pickle memo) instead of once per response.
_RESP_SUBMITTED: Final[Mapping[MessageState, RespOutcome]] = {
    state: RespOutcome(PartState.SUBMITTED, state, 0) for state in MessageState
}

#: Grouped ops (see `_op_group`) whose facts take extra trailing arguments computed once per
#: group, in the group's transaction, by the mapped function.
_GROUP_EXTRA: Final[
    Mapping[Callable[..., Any], Callable[[sqlite3.Connection, Sequence[_Fact]], tuple[Any, ...]]]
] = {
    _op_resp: _receipts_waiting,
}


def _apply_receipt(
    conn: sqlite3.Connection,
    receipt_id: int,
    message_id: int,
    part_seq: int,
    stat: str,
    err: str | None,
    received_at: float,
    now: float,
    was: str,
    counts: _Counts,
) -> ReceiptStatus:
    """Match stored receipt `receipt_id` (status `was`) to a part; changes go to `counts`."""
    part = conn.execute(
        "SELECT state FROM parts WHERE message_id = ? AND seq = ?", (message_id, part_seq)
    ).fetchone()
    if PartState(part[0]) in PART_FINAL:
        status = ReceiptStatus.DUPLICATE
    else:
        status = ReceiptStatus.MATCHED
        final = RECEIPT_FINAL_STATS.get(stat.strip().upper())
        new_state = final.value if final is not None else part[0]
        conn.execute(
            "UPDATE parts SET state = ?, receipt_stat = ?, receipt_err = ?, receipt_at = ?"
            " WHERE message_id = ? AND seq = ?",
            (new_state, stat, err, received_at, message_id, part_seq),
        )
    conn.execute(
        "UPDATE receipts SET status = ?, message_id = ?, part_seq = ?, matched_at = ? WHERE id = ?",
        (status.value, message_id, part_seq, now, receipt_id),
    )
    _moved(counts, "receipt", was, status.value)
    return status


def _aggregate(
    conn: sqlite3.Connection,
    message_id: int,
    now: float,
    counts: _Counts,
    known: tuple[MessageState, int] | None = None,
) -> MessageState:
    """The message's state after a part became final: a final state once every part is.

    `known`: ``(state, parts_total)`` of the message as read in this op (saves a read)."""
    if known is None:
        row = conn.execute(
            "SELECT state, parts_total FROM messages WHERE id = ?", (message_id,)
        ).fetchone()
        known = (MessageState(row[0]), int(row[1]))
    state, total = known
    if state is not MessageState.SUBMITTED:
        return state
    by_state: dict[str, int] = dict(
        conn.execute(
            "SELECT state, COUNT(*) FROM parts WHERE message_id = ? GROUP BY state", (message_id,)
        ).fetchall()
    )
    delivered = by_state.get(PartState.DELIVERED, 0)
    expired = by_state.get(PartState.EXPIRED, 0)
    undelivered = by_state.get(PartState.UNDELIVERED, 0)
    if delivered + expired + undelivered < total:
        return state
    if delivered == total:
        target = MessageState.DELIVERED
    elif delivered > 0:
        target = MessageState.PARTIALLY_DELIVERED
    elif expired == total:
        target = MessageState.EXPIRED
    elif undelivered == total and _all_rejected(conn, message_id, total):
        target = MessageState.REJECTED
    else:
        target = MessageState.FAILED
    _transition(conn, message_id, state, target, now, "receipt", counts=counts)
    return target


def _all_rejected(conn: sqlite3.Connection, message_id: int, total: int) -> bool:
    """True when every part's final receipt stat is REJECTD (as `_apply_receipt` reads it)."""
    rejected = conn.execute(
        "SELECT COUNT(*) FROM parts WHERE message_id = ? AND state = ?"
        " AND UPPER(TRIM(receipt_stat)) = 'REJECTD'",
        (message_id, PartState.UNDELIVERED.value),
    ).fetchone()[0]
    return int(rejected) == total


#: `PartState` and `MessageState` -> the value as a plain str (what SQL parameters get).
_PART_VALUE: Final[Mapping[PartState, str]] = {s: s.value for s in PartState}
_MESSAGE_VALUE: Final[Mapping[MessageState, str]] = {s: s.value for s in MessageState}

#: `ReceiptStatus` by value (a dict lookup instead of the enum's call).
_RECEIPT_STATUS: Final[Mapping[str, ReceiptStatus]] = {s.value: s for s in ReceiptStatus}

#: The message state a one-part message takes when its part becomes final.
_SINGLE_PART_FINAL: Final[Mapping[PartState, MessageState]] = {
    PartState.DELIVERED: MessageState.DELIVERED,
    PartState.EXPIRED: MessageState.EXPIRED,
    PartState.UNDELIVERED: MessageState.FAILED,
}


def _op_receipt(
    conn: sqlite3.Connection,
    normalize: Callable[[str], str],
    smsc_message_id: str,
    stat: str,
    now: float,
    err: str | None,
    raw: str | None,
    done_at: float | None,
) -> _Receipt:
    norm = normalize(smsc_message_id)
    if not norm:  # an id that normalises to nothing can never be matched
        return _receipt_pending(conn, smsc_message_id, norm, stat, now, err, raw, done_at)
    # One read finds the part (its message is not read: ~2 us less per receipt than a join,
    # measured); then one UPDATE of the part, one INSERT of the receipt (written once,
    # already matched or duplicate) and, when the part's final receipt ends a one-part
    # message, one guarded UPDATE of the message. (An UPDATE ... RETURNING
    # of the part instead of the read costs more: ~8 us against ~6 us, SQLite 3.40.)
    # The part this receipt is for: the one answered last with this SMSC id, the last entry
    # of idx_parts_smsc_id (smsc_id_norm, resp_at) for it: one index seek, no sorter
    # (measured: ~1.5 us less per receipt than a MAX(resp_at) subquery on an index of
    # smsc_id_norm alone). Each matched part has a resp_at (`_op_resp` sets both).
    part = conn.execute(
        "SELECT message_id, seq, state, total FROM parts INDEXED BY idx_parts_smsc_id"
        " WHERE smsc_id_norm = ? ORDER BY resp_at DESC LIMIT 1",
        (norm,),
    ).fetchone()
    if part is None:
        return _receipt_pending(conn, smsc_message_id, norm, stat, now, err, raw, done_at)
    message_id, seq, part_state, total = part
    # The receipt row is written once, already matched (or duplicate). Plain str values for
    # SQL and the counters: a StrEnum member costs an adaptation per bound parameter.
    final: PartState | None = None
    stat_key = stat.strip().upper()
    if part_state in PART_FINAL:  # a str compares and hashes as the StrEnum member
        status = "duplicate"
    else:
        status = "matched"
        final = RECEIPT_FINAL_STATS.get(stat_key)
        conn.execute(
            "UPDATE parts SET state = ?, receipt_stat = ?, receipt_err = ?, receipt_at = ?"
            " WHERE message_id = ? AND seq = ?",
            (part_state if final is None else _PART_VALUE[final], stat, err, now, message_id, seq),
        )
    receipt_id = conn.execute(
        "INSERT INTO receipts (smsc_message_id, smsc_id_norm, stat, err, raw, done_at,"
        " received_at, status, message_id, part_seq, matched_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (smsc_message_id, norm, stat, err, raw, done_at, now, status, message_id, seq, now),
    ).lastrowid
    if status == "duplicate" or (final is not None and total > 1):
        counts: _Counts = {("receipt", status): 1}
        state = _aggregate(conn, message_id, now, counts)
        _count(conn, counts)
    elif final is not None:
        # A one-part message: its only part decides (as `_aggregate` would), if the message
        # is ``submitted`` (the UPDATE's guard: a terminal message stays as it is). This
        # op's part UPDATE does not change the message.
        target = _SINGLE_PART_FINAL[final]
        if target is _F and stat_key == "REJECTD":
            target = _RJ  # as `_all_rejected` decides for several parts
        check_transition(message_id, _SD, target, "receipt")
        value = _MESSAGE_VALUE[target]
        if conn.execute(
            "UPDATE messages SET state = ?, updated_at = ?, done_at = ?"
            " WHERE id = ? AND state = 'submitted'",
            (value, now, now, message_id),
        ).rowcount:
            # The counter changes as one literal (not `_moved`): the common receipt.
            _count(
                conn,
                {("receipt", "matched"): 1, ("message", "submitted"): -1, ("message", value): 1},
            )
            state = target
        else:
            state = _state_of(conn, message_id)
            _count(conn, {("receipt", "matched"): 1})
    else:  # an intermediate receipt: the message stays as it is
        state = _state_of(conn, message_id)
        _count(conn, {("receipt", status): 1})
    return _Receipt((_RECEIPT_STATUS[status], receipt_id or 0, message_id, seq, state))


#: The ops a batch commits first (`_Batches`, "responses first"), alone or as a group's facts.
_FIRST: Final[frozenset[Callable[..., Any]]] = frozenset({_op_part_submit, _op_resp})
#: The ops the `_FIRST` ones may overtake: none of them concerns a part whose submit or
#: response is in flight in a way that depends on the order (see `_Batches`).
_COMMUTING: Final[frozenset[Callable[..., Any]]] = frozenset({_op_receipt, _op_claim, _op_accept})


def _receipt_pending(
    conn: sqlite3.Connection,
    smsc_message_id: str,
    norm: str,
    stat: str,
    now: float,
    err: str | None,
    raw: str | None,
    done_at: float | None,
) -> _Receipt:
    """Keep a receipt that matches no part (yet) as ``pending``."""
    cur = conn.execute(
        "INSERT INTO receipts (smsc_message_id, smsc_id_norm, stat, err, raw, done_at,"
        " received_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')",
        (smsc_message_id, norm, stat, err, raw, done_at, now),
    )
    _count(conn, {("receipt", ReceiptStatus.PENDING.value): 1})
    return _Receipt((ReceiptStatus.PENDING, int(cur.lastrowid or 0), None, None, None))


def _op_sweep_receipts(
    conn: sqlite3.Connection, cutoff: float
) -> list[tuple[str, str, str | None]]:
    rows = conn.execute(
        "UPDATE receipts SET status = 'unmatched' WHERE status = 'pending' AND received_at <= ?"
        " RETURNING smsc_message_id, stat, err",
        (cutoff,),
    ).fetchall()
    _count(conn, {("receipt", "pending"): -len(rows), ("receipt", "unmatched"): len(rows)})
    return [(str(r[0]), str(r[1]), r[2]) for r in rows]


def _op_receipt_timeout(conn: sqlite3.Connection, now: float, after: float) -> list[int]:
    error = f"no final receipt within {after:g} s"
    rows = conn.execute(
        "UPDATE messages SET state = 'unknown', updated_at = ?, done_at = ?, last_error = ?"
        " WHERE id IN (SELECT m.id FROM messages AS m INDEXED BY idx_messages_submitted"
        " WHERE m.state = 'submitted' AND COALESCE(m.validity_deadline,"
        " (SELECT MAX(p.resp_at) FROM parts AS p WHERE p.message_id = m.id), m.updated_at)"
        " + ? <= ?) RETURNING id",
        (now, now, error, after, now),
    ).fetchall()
    _count(conn, {("message", "submitted"): -len(rows), ("message", "unknown"): len(rows)})
    return sorted(int(r[0]) for r in rows)


def _op_expire(conn: sqlite3.Connection, now: float) -> list[int]:
    ids: list[int] = []
    counts: _Counts = {}
    for state in ("queued", "scheduled"):  # one UPDATE per state: each knows its counter
        rows = conn.execute(
            "UPDATE messages SET state = 'expired', updated_at = ?, done_at = ?,"
            " last_error = 'validity deadline passed before sending'"
            " WHERE validity_deadline IS NOT NULL AND validity_deadline <= ?"
            " AND state IN ('queued', 'scheduled') AND state = ? RETURNING id",
            (now, now, now, state),
        ).fetchall()
        _moved(counts, "message", state, "expired", len(rows))
        ids.extend(int(r[0]) for r in rows)
    _count(conn, counts)
    return sorted(ids)


def _op_recover(conn: sqlite3.Connection, now: float) -> RecoveryReport:
    in_doubt = conn.execute(
        "SELECT COUNT(*) FROM parts WHERE state = 'submitting' AND message_id IN"
        " (SELECT id FROM messages WHERE state = 'submitting')"
    ).fetchone()[0]
    conn.execute(  # a part's row is the record of its latest submit (`_op_part_submit`)
        "UPDATE parts SET error = 'no response before restart'"
        " WHERE state = 'submitting' AND message_id IN"
        " (SELECT id FROM messages WHERE state = 'submitting')"
    )
    rows = conn.execute(
        "UPDATE messages SET state = 'queued', next_attempt_at = ?, updated_at = ?,"
        " recoveries = recoveries + 1,"
        " last_error = 'requeued after restart: outcome of the in-flight attempt unknown'"
        " WHERE state = 'submitting' RETURNING id",
        (now, now),
    ).fetchall()
    _count(conn, {("message", "submitting"): -len(rows), ("message", "queued"): len(rows)})
    return RecoveryReport(tuple(sorted(int(r[0]) for r in rows)), int(in_doubt))


def _op_mo(
    conn: sqlite3.Connection,
    source: str,
    destination: str,
    text: str,
    now: float,
    parts: int,
    metadata: str,
) -> MoRecord:
    link = conn.execute(
        "SELECT id FROM messages INDEXED BY idx_messages_sent_to"
        " WHERE destination = ? AND first_submitted_at IS NOT NULL AND source = ?"
        " ORDER BY id DESC LIMIT 1",
        (source, destination),
    ).fetchone()
    if link is None:
        link = conn.execute(
            "SELECT id FROM messages INDEXED BY idx_messages_sent_to"
            " WHERE destination = ? AND first_submitted_at IS NOT NULL ORDER BY id DESC LIMIT 1",
            (source,),
        ).fetchone()
    linked = int(link[0]) if link is not None else None
    cur = conn.execute(
        "INSERT INTO mo (source, destination, text, parts, received_at, linked_message_id,"
        " metadata) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (source, destination, text, parts, now, linked, metadata),
    )
    return MoRecord(int(cur.lastrowid or 0), source, destination, text, parts, now, linked)


def _op_suppress(conn: sqlite3.Connection, number: str, reason: str, now: float) -> None:
    conn.execute(
        "INSERT INTO suppression (number, reason, at) VALUES (?, ?, ?)"
        " ON CONFLICT (number) DO UPDATE SET reason = excluded.reason",
        (number, reason, now),
    )


def _op_unsuppress(conn: sqlite3.Connection, number: str) -> bool:
    return conn.execute("DELETE FROM suppression WHERE number = ?", (number,)).rowcount > 0


# --------------------------------------------------------------------------------------------
# Reads: run on the calling thread's read connection.


def _summary(r: tuple[Any, ...]) -> MessageSummary:
    return MessageSummary(
        id=r[0],
        state=MessageState(r[1]),
        source=r[2],
        destination=r[3],
        parts_total=r[4],
        priority=r[5],
        attempts=r[6],
        created_at=r[7],
        updated_at=r[8],
        next_attempt_at=r[9],
        last_error=r[10],
        client_ref=r[11],
        campaign_id=r[12],
    )


def _read_status(conn: sqlite3.Connection, message_id: int) -> MessageStatus:
    conn.execute("BEGIN")
    try:
        r = conn.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,)
        ).fetchone()
        if r is None:
            raise UnknownMessageError(message_id)
        parts = conn.execute(
            f"SELECT {_PART_COLUMNS} FROM parts WHERE message_id = ? ORDER BY seq", (message_id,)
        ).fetchall()
        # The attempt log: the submits a resend superseded (attempts) and each part's latest
        # (its row), in sending order; an earlier submit of a part first on a tie.
        attempts = conn.execute(
            "SELECT part_seq, attempt_no, bind, sequence_number, sent_at, command_status,"
            " resp_at, error, 0 AS latest, id FROM attempts WHERE message_id = ?1"
            " UNION ALL SELECT seq, attempt_no, bind, sequence_number, submitted_at,"
            " command_status, resp_at, error, 1, 0 FROM parts WHERE message_id = ?1"
            " ORDER BY 5, 2, 1, 9, 10",
            (message_id,),
        ).fetchall()
    finally:
        conn.execute("COMMIT")
    return MessageStatus(
        id=r[0],
        state=MessageState(r[10]),
        source=r[2],
        destination=r[3],
        text=r[4],
        parts_total=r[9],
        priority=r[11],
        attempts=r[16],
        recoveries=r[17],
        created_at=r[12],
        updated_at=r[13],
        next_attempt_at=r[15],
        validity_deadline=r[14],
        first_submitted_at=r[24],
        done_at=r[25],
        last_error=r[18],
        client_ref=r[1],
        encoding=r[5],
        profile=r[6],
        method=r[7],
        concat_ref=r[8],
        route=r[19],
        bind=r[20],
        claimed_bind=r[21],
        campaign_id=r[22],
        metadata=json.loads(r[23]),
        parts=tuple(PartRecord(p[0], p[1], PartState(p[2]), *p[3:]) for p in parts),
        attempt_log=tuple(AttemptRecord(*a[:8]) for a in attempts),
    )


# --------------------------------------------------------------------------------------------
# Public API


class MessageStore:
    """The durable message store (synchronous API; see `aio` for the asyncio one).

    Mutations are group-committed by the writer (a thread, or a child process) and return
    once committed. Reads run on a read connection owned by the calling thread.

    Args:
        path: Database file (created if missing). ``":memory:"`` is refused: WAL and the
            separate read connections need a file.
        synchronous: ``"FULL"`` (survives power loss) or ``"NORMAL"`` (survives process
            crashes only); see the module docstring.
        normalize: Normalisation of the SMSC message_id of a submit_sm_resp, for receipt
            matching, e.g. ``functools.partial(sms.receipt.normalize_id, rule=R,
            side=IdSide.RESP)``. An empty result counts as "no id".
        normalize_receipt: Normalisation of the id read from a receipt (default: `normalize`);
            differs when the SMSC writes ids in hex in responses and in decimal in receipts.
        max_batch: Most ops per transaction.
        linger: Seconds the writer waits for more ops after the first of a batch (0 = take
            what is queued; batches then form naturally while the previous COMMIT runs).
        cache_kib: SQLite page cache per connection, in KiB (bounds memory).
        writer: ``"thread"``: the writer is a thread of this process (cheap to open: tests
            and tools). ``"process"``: it is a child process (`gateway.storeproc`) with its
            own interpreter, so the SQL work runs on another core, outside this process's
            GIL (the gateway's default; the first open in a process costs a Python
            start-up, later ones a fork of a booted process). In process mode
            `normalize` and `normalize_receipt` must pickle (module-level functions, or
            ``functools.partial`` of one with picklable arguments).

    Raises:
        StoreError: The file cannot be opened in WAL mode or has an unknown schema version,
            or the writer process cannot be started.
        GatewayConfigError: `writer` is unknown, or a normaliser does not pickle in process
            mode.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        normalize: Callable[[str], str] = default_normalize,
        normalize_receipt: Callable[[str], str] | None = None,
        max_batch: int = 2000,
        linger: float = 0.0,
        cache_kib: int = 16384,
        writer: Literal["thread", "process"] = "thread",
    ) -> None:
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise StoreError(f"SQLite {sqlite3.sqlite_version} is too old (RETURNING needs 3.35)")
        if str(path) == ":memory:" or str(path).startswith("file::memory:"):
            raise StoreError("the message store needs a file, not ':memory:'")
        if synchronous not in ("FULL", "NORMAL"):
            raise StoreError(f"synchronous must be FULL or NORMAL, got {synchronous!r}")
        if max_batch < 1:
            raise StoreError(f"max_batch must be >= 1, got {max_batch}")
        self.path = str(path)
        self.synchronous = synchronous
        self._normalize = normalize
        self._normalize_receipt = normalize_receipt or normalize
        self._cache_kib = cache_kib
        self.writer_kind = writer
        """``"thread"`` or ``"process"``: where the writer runs."""
        self._writer: _WriterLike
        try:
            if writer == "thread":
                self._writer = _Writer(
                    self.path,
                    synchronous=synchronous,
                    max_batch=max_batch,
                    linger=linger,
                    cache_kib=cache_kib,
                )
            elif writer == "process":
                for name, fn in (
                    ("normalize", self._normalize),
                    ("normalize_receipt", self._normalize_receipt),
                ):
                    _check_picklable(name, fn)
                from gateway.storeproc import ProcessWriter  # here: storeproc imports this module

                self._writer = ProcessWriter(
                    self.path,
                    synchronous=synchronous,
                    max_batch=max_batch,
                    linger=linger,
                    cache_kib=cache_kib,
                )
            else:
                raise GatewayConfigError(
                    f"must be 'thread' or 'process', got {writer!r}", field="writer"
                )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open message store {self.path}: {exc}") from exc
        self._tick_ops: dict[asyncio.AbstractEventLoop, list[_Op]] = {}
        self._tick_groups: dict[
            tuple[asyncio.AbstractEventLoop, Callable[..., Any]],
            tuple[list[_Fact], list[OpCallback]],
        ] = {}
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        self.aio = AsyncMessageStore(self)
        """The asyncio view of this store."""

    # -- plumbing ------------------------------------------------------------------------

    # An op is ``fn(conn, *args)`` with `fn` a module-level function and `args` plain data
    # (no closures): the process writer pickles the pair to its child.

    def _enqueue(self, fn: Callable[..., T], args: tuple[Any, ...]) -> concurrent.futures.Future[T]:
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._writer.submit(_Op(fn, args, sync_future=fut))
        return fut

    def _call(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        return self._enqueue(fn, args).result()

    async def _acall(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        self._queue_op(loop, _Op(fn, args, loop=loop, async_future=fut))
        return await fut

    def _submit_nowait(
        self, fn: Callable[..., Any], args: tuple[Any, ...], on_done: OpCallback
    ) -> None:
        """Queue ``fn(conn, *args)`` for the writer; `on_done(result, error)` runs on the
        running loop after the batch holding it commits (or fails). Raises
        `StoreClosedError` at once when closed."""
        loop = asyncio.get_running_loop()
        self._queue_op(loop, _Op(fn, args, loop=loop, callback=on_done))

    def _queue_op(self, loop: asyncio.AbstractEventLoop, op: _Op) -> None:
        """Collect the ops a loop issues during one pass and hand them to the writer together
        at the end of the pass (one queue put and one writer wake-up per pass, larger group
        commits). Order is kept: every asyncio op of the loop goes through here."""
        if self._writer.closed:
            raise StoreClosedError("the message store is closed")
        pending = self._tick_ops.get(loop)
        if pending is None:
            pending = self._tick_ops[loop] = []
            loop.call_soon(self._flush_tick, loop)
        pending.append(op)

    def _queue_fact(
        self, run: Callable[..., Any], args: tuple[Any, ...], on_done: OpCallback
    ) -> None:
        """The facts of one kind (`run`: part submits, responses, receipts) queued during one
        loop pass share one op, at the place of the first of them: one op and one pass over
        the writer's per-op machinery for the burst of PDUs a loop pass handles. Moving a
        fact earlier than ops of other kinds queued in the same pass is safe for these: a
        part's submit and its response are never in one pass (the response is read after
        the write is flushed), and a receipt and its response may come in either order (the
        store matches a receipt that came first when the response lands)."""
        loop = asyncio.get_running_loop()
        key = (loop, run)
        group = self._tick_groups.get(key)
        if group is None:
            facts: list[_Fact] = []
            callbacks: list[OpCallback] = []
            # The op holds the (growing) list of the facts' arguments; a writer reads it
            # only after `_flush_tick` hands the op over, when the pass is over.
            self._queue_op(
                loop,
                _Op(
                    _op_group,
                    (run, facts),
                    loop=loop,
                    callback=functools.partial(_settle_group, callbacks),
                ),
            )
            group = self._tick_groups[key] = (facts, callbacks)
        group[0].append(args)
        group[1].append(on_done)

    def _flush_tick(self, loop: asyncio.AbstractEventLoop) -> None:
        for key in [k for k in self._tick_groups if k[0] is loop]:
            del self._tick_groups[key]
        ops = self._tick_ops.pop(loop, None)
        if not ops:
            return
        try:
            self._writer.submit(ops)
        except StoreClosedError as exc:
            for op in ops:
                op.ok, op.error = False, exc
            _settle([(_target(op), False, exc) for op in ops])

    def _reader(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreClosedError("the message store is closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path, cache_kib=min(self._cache_kib, 4096), read_only=True)
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def writer_stats(self) -> WriterStats:
        """Group-commit counters (ops, transactions, largest batch)."""
        return self._writer.stats()

    @property
    def writer_pid(self) -> int | None:
        """The writer process's pid (process mode), or None (thread mode)."""
        return self._writer.pid

    def close(self) -> None:
        """Commit what is queued, stop the writer (join its thread or process), checkpoint
        the WAL and close connections.

        Idempotent. Ops submitted after close raise `StoreClosedError`.
        """
        if self._closed:
            return
        self._closed = True
        for loop in list(self._tick_ops):  # ops queued in this loop pass still go in
            self._flush_tick(loop)
        self._writer.close()
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()

    def __enter__(self) -> MessageStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- mutations -----------------------------------------------------------------------

    def accept(self, messages: Sequence[NewMessage], now: float) -> list[int]:
        """Store new messages; returns only after they are committed.

        Args:
            messages: The messages (one transaction for all of them with the rest of the batch).
            now: Accept time; messages with ``not_before > now`` start ``scheduled``.

        Returns:
            Their ids, in the order given.

        Raises:
            ValueError: A message's metadata is not JSON-serialisable.
            StoreError: The commit failed.
        """
        rows = [_message_row(m, now) for m in messages]
        return self._call(_op_accept, (rows,))

    def claim(self, now: float, limit: int, *, bind: str | None = None) -> ClaimBatch:
        """Promote due ``scheduled`` messages, then take up to `limit` ``queued`` ones in
        (priority DESC, id) order and mark them ``submitting`` (attempts += 1).

        The claim is committed before this returns, so the caller may write PDUs for them.
        Messages whose validity deadline has passed are expired instead of claimed.

        Args:
            now: Current time.
            limit: Most messages to claim.
            bind: Recorded as the claiming bind.

        Returns:
            The claimed messages (highest priority first, FIFO within a priority), the ids
            expired on the way, and how many scheduled messages were promoted.
        """
        return _claimed_batch(self._call(_op_claim, (now, limit, bind)))

    def release(
        self, message_id: int, now: float, *, until: float | None = None, reason: str | None = None
    ) -> MessageState:
        """Undo a claim before any part was sent (attempts -= 1): ``submitting`` -> ``queued``
        (or ``scheduled`` when `until` is later than `now`, e.g. quiet hours at hand-off).

        Args:
            message_id: The message.
            now: Current time.
            until: Not before this time, or None for now.
            reason: Stored as last_error.

        Returns:
            The new state.

        Raises:
            IllegalTransitionError: Not ``submitting``, or a part was already sent this attempt.
            UnknownMessageError: No such message.
        """
        return self._call(_op_release, (message_id, now, until, reason))

    def record_part_submit(
        self,
        message_id: int,
        part_seq: int,
        now: float,
        *,
        bind: str | None = None,
        sequence_number: int | None = None,
    ) -> None:
        """Record that a part's submit_sm is being written to `bind`.

        The part's row records its latest submit (and then its response); a resend moves
        the previous submit to the attempt log (`MessageStatus.attempt_log` shows both).

        Args:
            message_id: The (``submitting``) message.
            part_seq: Part number, 1-based.
            now: Send time.
            bind: Bind name.
            sequence_number: SMPP sequence number of the PDU.

        Raises:
            IllegalTransitionError: The message is not ``submitting`` or the part already has
                an SMSC id.
            StoreError: No such part number.
            UnknownMessageError: No such message.
        """
        self._call(_op_part_submit, (message_id, part_seq, now, bind, sequence_number))

    def record_resp(
        self,
        message_id: int,
        part_seq: int,
        now: float,
        *,
        command_status: int,
        smsc_message_id: str | None = None,
        error: str | None = None,
    ) -> RespOutcome:
        """Record a part's submit_sm_resp (or generic_nack).

        ESME_ROK stores the SMSC id, applies receipts that arrived early, and moves the
        message to ``submitted`` once every part is answered. An error marks the part
        ``rejected``; the caller then calls `requeue` or `finalise` per its retry policy.

        Args:
            message_id: The message.
            part_seq: Part number.
            now: Response time.
            command_status: The response's status.
            smsc_message_id: message_id from the response (required for ESME_ROK).
            error: Free text stored with the attempt.

        Returns:
            The part's and the message's states afterwards.

        Raises:
            IllegalTransitionError: The part has no outstanding submit.
            StoreError: ESME_ROK without an SMSC id.
            UnknownMessageError: No such message.
        """
        return self._call(
            _op_resp,
            (self._normalize, message_id, part_seq, now, command_status, smsc_message_id, error),
        )

    def requeue(
        self,
        message_id: int,
        now: float,
        *,
        retry_at: float | None = None,
        error: str | None = None,
    ) -> MessageState:
        """Put a ``submitting`` message back: ``queued`` now, or ``scheduled`` for `retry_at`.

        Args:
            message_id: The message.
            now: Current time.
            retry_at: When to retry (None or <= now: as soon as possible).
            error: Stored as last_error.

        Returns:
            The new state.

        Raises:
            IllegalTransitionError: The message is not ``submitting``.
            UnknownMessageError: No such message.
        """
        return self._call(_op_requeue, (message_id, now, retry_at, error))

    def defer(
        self, message_id: int, until: float, now: float, *, reason: str | None = None
    ) -> None:
        """Move a waiting (``queued``/``scheduled``) message to `until` (quiet hours, operator).

        Args:
            message_id: The message.
            until: New due time.
            now: Current time.
            reason: Stored as last_error.

        Raises:
            IllegalTransitionError: The message is not waiting.
            UnknownMessageError: No such message.
        """
        self._call(_op_defer, (message_id, until, now, reason))

    def finalise(
        self, message_id: int, state: MessageState, now: float, *, error: str | None = None
    ) -> MessageState:
        """Move a message to a terminal state (failed, expired, cancelled...).

        Args:
            message_id: The message.
            state: A member of `TERMINAL_STATES`.
            now: Current time.
            error: Stored as last_error.

        Returns:
            The state it had before.

        Raises:
            IllegalTransitionError: Not allowed from the current state.
            UnknownMessageError: No such message.
            ValueError: `state` is not terminal.
        """
        return self._call(_op_finalise, (message_id, state, now, error))

    def cancel(self, message_id: int, now: float) -> None:
        """Cancel a message that has not been claimed (``queued`` or ``scheduled``).

        Raises:
            IllegalTransitionError: The message is in flight or finished.
            UnknownMessageError: No such message.
        """
        self.finalise(message_id, MessageState.CANCELLED, now, error="cancelled")

    def expire_overdue(self, now: float) -> list[int]:
        """Expire waiting messages whose validity deadline has passed.

        Returns:
            The ids expired.
        """
        return self._call(_op_expire, (now,))

    def record_receipt(
        self,
        smsc_message_id: str,
        stat: str,
        now: float,
        *,
        err: str | None = None,
        raw: str | None = None,
        done_at: float | None = None,
    ) -> ReceiptOutcome:
        """Store a delivery receipt and match it to a part by normalised SMSC id.

        Args:
            smsc_message_id: The id from the receipt (``id:`` field or receipted_message_id).
            stat: The receipt ``stat`` (DELIVRD, UNDELIV, ...).
            now: Receive time.
            err: The receipt ``err`` field.
            raw: The receipt text as received.
            done_at: The receipt's done date, as epoch seconds, if parsed.

        Returns:
            MATCHED (part updated, message aggregated), PENDING (no such id yet: kept until
            the response lands) or DUPLICATE (part already final: nothing changed).
        """
        return _receipt_outcome(
            self._call(
                _op_receipt,
                (self._normalize_receipt, smsc_message_id, stat, now, err, raw, done_at),
            )
        )

    def sweep_receipts(self, now: float, older_than: float) -> int:
        """Mark receipts pending for longer than `older_than` seconds as ``unmatched``.

        They are kept, counted, and still matched if their response arrives later.

        Returns:
            How many were marked.
        """
        return len(self._call(_op_sweep_receipts, (now - older_than,)))

    def time_out_receipts(self, now: float, after: float) -> list[int]:
        """End as ``unknown`` every ``submitted`` message still without final receipts `after`
        seconds past its validity deadline (past its last submit_sm_resp when it has none).

        Its parts keep their states; a receipt that arrives later updates its part only
        (terminal states are absorbing).

        Returns:
            The ids moved to ``unknown``, ascending.
        """
        return self._call(_op_receipt_timeout, (now, after))

    def recover(self, now: float) -> RecoveryReport:
        """Start-up recovery: every ``submitting`` message goes back to ``queued``, counted.

        Returns:
            The requeued ids (possible duplicates) and the parts in doubt.
        """
        report = self._call(_op_recover, (now,))
        if report.requeued:
            log.warning(
                "smsh.gateway.store.recovered",
                extra={"requeued": len(report.requeued), "parts_in_doubt": report.parts_in_doubt},
            )
        return report

    def record_mo(
        self,
        source: str,
        destination: str,
        text: str,
        now: float,
        *,
        parts: int = 1,
        metadata: Mapping[str, Any] | None = None,
    ) -> MoRecord:
        """Store a mobile-originated message and link it to the last message we sent to
        `source` (preferring one sent from `destination`).

        Returns:
            The stored record with its link.
        """
        meta = _dumps(metadata or {})
        return self._call(_op_mo, (source, destination, text, now, parts, meta))

    def suppress(self, number: str, reason: str, now: float) -> None:
        """Add `number` to the suppression list (or update its reason)."""
        self._call(_op_suppress, (number, reason, now))

    def unsuppress(self, number: str) -> bool:
        """Remove `number` from the suppression list; returns whether it was there."""
        return self._call(_op_unsuppress, (number,))

    # -- reads ---------------------------------------------------------------------------

    def status(self, message_id: int) -> MessageStatus:
        """Everything about one message, with parts and attempts.

        Raises:
            UnknownMessageError: No such message.
        """
        return _read_status(self._reader(), message_id)

    def list_messages(
        self,
        *,
        state: MessageState | None = None,
        campaign_id: str | None = None,
        destination: str | None = None,
        client_ref: str | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[MessageSummary]:
        """Messages matching all given filters, by id, after `after_id` (keyset paging).

        Returns:
            Up to `limit` summaries.
        """
        where = ["id > ?"]
        args: list[Any] = [after_id]
        for column, value in (
            ("state", state.value if state is not None else None),
            ("campaign_id", campaign_id),
            ("destination", destination),
            ("client_ref", client_ref),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        rows = self._reader().execute(
            f"SELECT {_SUMMARY_COLUMNS} FROM messages WHERE {' AND '.join(where)}"
            " ORDER BY id LIMIT ?",
            (*args, limit),
        )
        return [_summary(r) for r in rows]

    def counts(self) -> dict[MessageState, int]:
        """Messages per state (O(1): the counters table the ops keep)."""
        rows = self._reader().execute("SELECT key, n FROM counters WHERE kind = 'message'")
        return {MessageState(k): int(n) for k, n in rows}

    def receipt_counts(self) -> dict[ReceiptStatus, int]:
        """Receipts per status (matched, pending, unmatched, duplicate)."""
        rows = self._reader().execute("SELECT key, n FROM counters WHERE kind = 'receipt'")
        return {ReceiptStatus(k): int(n) for k, n in rows}

    def list_mo(
        self, *, source: str | None = None, after_id: int = 0, limit: int = 100
    ) -> list[MoRecord]:
        """Stored MO messages by id, optionally from one handset."""
        sql = (
            "SELECT id, source, destination, text, parts, received_at, linked_message_id"
            " FROM mo WHERE id > ?"
        )
        args: list[Any] = [after_id]
        if source is not None:
            sql += " AND source = ?"
            args.append(source)
        rows = self._reader().execute(sql + " ORDER BY id LIMIT ?", (*args, limit))
        return [MoRecord(*r) for r in rows]

    def is_suppressed(self, number: str) -> bool:
        """True if `number` is on the suppression list."""
        return self.suppression(number) is not None

    def suppression(self, number: str) -> Suppression | None:
        """The suppression entry for `number`, or None."""
        row = (
            self._reader()
            .execute("SELECT number, reason, at FROM suppression WHERE number = ?", (number,))
            .fetchone()
        )
        return Suppression(*row) if row is not None else None

    def suppressed_among(self, numbers: Iterable[str]) -> set[str]:
        """Which of `numbers` are suppressed (for bulk checks before accepting a campaign)."""
        wanted = list(dict.fromkeys(numbers))
        found: set[str] = set()
        conn = self._reader()
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                r[0]
                for r in conn.execute(
                    f"SELECT number FROM suppression WHERE number IN ({marks})", chunk
                )
            )
        return found


class AsyncMessageStore:
    """The asyncio view of a `MessageStore`: same operations, awaited.

    Mutations enqueue into the writer's next batch and resolve after its COMMIT, without
    blocking the event loop. Reads run in a worker thread.

    Args:
        store: The store to view.
    """

    def __init__(self, store: MessageStore) -> None:
        self._s = store

    async def accept(self, messages: Sequence[NewMessage], now: float) -> list[int]:
        """See `MessageStore.accept`; resolves after the batch holding them commits."""
        rows = [_message_row(m, now) for m in messages]
        return await self._s._acall(_op_accept, (rows,))

    async def claim(self, now: float, limit: int, *, bind: str | None = None) -> ClaimBatch:
        """See `MessageStore.claim`."""
        return _claimed_batch(await self._s._acall(_op_claim, (now, limit, bind)))

    async def release(
        self, message_id: int, now: float, *, until: float | None = None, reason: str | None = None
    ) -> MessageState:
        """See `MessageStore.release`."""
        return await self._s._acall(_op_release, (message_id, now, until, reason))

    async def record_part_submit(
        self,
        message_id: int,
        part_seq: int,
        now: float,
        *,
        bind: str | None = None,
        sequence_number: int | None = None,
    ) -> None:
        """See `MessageStore.record_part_submit`."""
        await self._s._acall(_op_part_submit, (message_id, part_seq, now, bind, sequence_number))

    async def record_resp(
        self,
        message_id: int,
        part_seq: int,
        now: float,
        *,
        command_status: int,
        smsc_message_id: str | None = None,
        error: str | None = None,
    ) -> RespOutcome:
        """See `MessageStore.record_resp`."""
        normalize = self._s._normalize
        return await self._s._acall(
            _op_resp, (normalize, message_id, part_seq, now, command_status, smsc_message_id, error)
        )

    async def requeue(
        self,
        message_id: int,
        now: float,
        *,
        retry_at: float | None = None,
        error: str | None = None,
    ) -> MessageState:
        """See `MessageStore.requeue`."""
        return await self._s._acall(_op_requeue, (message_id, now, retry_at, error))

    async def defer(
        self, message_id: int, until: float, now: float, *, reason: str | None = None
    ) -> None:
        """See `MessageStore.defer`."""
        await self._s._acall(_op_defer, (message_id, until, now, reason))

    async def finalise(
        self, message_id: int, state: MessageState, now: float, *, error: str | None = None
    ) -> MessageState:
        """See `MessageStore.finalise`."""
        return await self._s._acall(_op_finalise, (message_id, state, now, error))

    async def cancel(self, message_id: int, now: float) -> None:
        """See `MessageStore.cancel`."""
        await self.finalise(message_id, MessageState.CANCELLED, now, error="cancelled")

    async def expire_overdue(self, now: float) -> list[int]:
        """See `MessageStore.expire_overdue`."""
        return await self._s._acall(_op_expire, (now,))

    async def record_receipt(
        self,
        smsc_message_id: str,
        stat: str,
        now: float,
        *,
        err: str | None = None,
        raw: str | None = None,
        done_at: float | None = None,
    ) -> ReceiptOutcome:
        """See `MessageStore.record_receipt`."""
        normalize = self._s._normalize_receipt
        return _receipt_outcome(
            await self._s._acall(
                _op_receipt, (normalize, smsc_message_id, stat, now, err, raw, done_at)
            )
        )

    async def sweep_receipts(self, now: float, older_than: float) -> int:
        """See `MessageStore.sweep_receipts`."""
        return len(await self.sweep_pending(now, older_than))

    async def sweep_pending(
        self, now: float, older_than: float
    ) -> list[tuple[str, str, str | None]]:
        """Like `sweep_receipts`, returning ``(smsc_message_id, stat, err)`` of each receipt
        marked ``unmatched``."""
        return await self._s._acall(_op_sweep_receipts, (now - older_than,))

    async def time_out_receipts(self, now: float, after: float) -> list[int]:
        """See `MessageStore.time_out_receipts`."""
        return await self._s._acall(_op_receipt_timeout, (now, after))

    async def recover(self, now: float) -> RecoveryReport:
        """See `MessageStore.recover`."""
        return await asyncio.to_thread(self._s.recover, now)

    async def record_mo(
        self,
        source: str,
        destination: str,
        text: str,
        now: float,
        *,
        parts: int = 1,
        metadata: Mapping[str, Any] | None = None,
    ) -> MoRecord:
        """See `MessageStore.record_mo`."""
        meta = _dumps(metadata or {})
        return await self._s._acall(_op_mo, (source, destination, text, now, parts, meta))

    async def suppress(self, number: str, reason: str, now: float) -> None:
        """See `MessageStore.suppress`."""
        await self._s._acall(_op_suppress, (number, reason, now))

    async def unsuppress(self, number: str) -> bool:
        """See `MessageStore.unsuppress`."""
        return await self._s._acall(_op_unsuppress, (number,))

    async def status(self, message_id: int) -> MessageStatus:
        """See `MessageStore.status` (runs in a worker thread)."""
        return await asyncio.to_thread(self._s.status, message_id)

    async def list_messages(
        self,
        *,
        state: MessageState | None = None,
        campaign_id: str | None = None,
        destination: str | None = None,
        client_ref: str | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[MessageSummary]:
        """See `MessageStore.list_messages` (runs in a worker thread)."""
        return await asyncio.to_thread(
            lambda: self._s.list_messages(
                state=state,
                campaign_id=campaign_id,
                destination=destination,
                client_ref=client_ref,
                after_id=after_id,
                limit=limit,
            )
        )

    async def counts(self) -> dict[MessageState, int]:
        """See `MessageStore.counts` (runs in a worker thread)."""
        return await asyncio.to_thread(self._s.counts)

    async def receipt_counts(self) -> dict[ReceiptStatus, int]:
        """See `MessageStore.receipt_counts` (runs in a worker thread)."""
        return await asyncio.to_thread(self._s.receipt_counts)

    async def is_suppressed(self, number: str) -> bool:
        """See `MessageStore.is_suppressed` (runs in a worker thread)."""
        return await asyncio.to_thread(self._s.is_suppressed, number)

    async def list_mo(
        self, *, source: str | None = None, after_id: int = 0, limit: int = 100
    ) -> list[MoRecord]:
        """See `MessageStore.list_mo` (runs in a worker thread)."""
        return await asyncio.to_thread(
            lambda: self._s.list_mo(source=source, after_id=after_id, limit=limit)
        )

    async def suppression(self, number: str) -> Suppression | None:
        """See `MessageStore.suppression` (runs in a worker thread)."""
        return await asyncio.to_thread(self._s.suppression, number)

    async def suppressed_among(self, numbers: Iterable[str]) -> set[str]:
        """See `MessageStore.suppressed_among` (runs in a worker thread)."""
        wanted = list(numbers)
        return await asyncio.to_thread(self._s.suppressed_among, wanted)

    # -- callback variants: the hot path of the binds ---------------------------------------
    #
    # Same ops as above, but the caller passes `on_done(result, error)` instead of awaiting:
    # the op enters the writer's queue at once (so ops are queued in the order the facts
    # happened, with no task start in between), and `on_done` runs on the calling loop after
    # the batch holding it commits, one loop callback per batch for all of them. This saves a
    # task, a coroutine and a future per PDU. They raise `StoreClosedError` at once.

    def record_part_submit_nowait(
        self,
        message_id: int,
        part_seq: int,
        now: float,
        *,
        bind: str | None = None,
        sequence_number: int | None = None,
        on_done: OpCallback,
    ) -> None:
        """See `MessageStore.record_part_submit`; `on_done` gets None.

        The part submits queued during one loop pass run as one op (see `_queue_fact`).
        """
        self._s._queue_fact(
            _op_part_submit, (message_id, part_seq, now, bind, sequence_number), on_done
        )

    def record_resp_nowait(
        self,
        message_id: int,
        part_seq: int,
        now: float,
        *,
        command_status: int,
        smsc_message_id: str | None = None,
        error: str | None = None,
        on_done: OpCallback,
    ) -> None:
        """See `MessageStore.record_resp`; `on_done` gets the `RespOutcome`. The responses
        queued during one loop pass run as one op (see `MessageStore._queue_fact`)."""
        self._s._queue_fact(
            _op_resp,
            (
                self._s._normalize,
                message_id,
                part_seq,
                now,
                command_status,
                smsc_message_id,
                error,
            ),
            on_done,
        )

    def record_receipt_nowait(
        self,
        smsc_message_id: str,
        stat: str,
        now: float,
        *,
        err: str | None = None,
        raw: str | None = None,
        done_at: float | None = None,
        on_done: OpCallback,
    ) -> None:
        """See `MessageStore.record_receipt`; `on_done` gets the `ReceiptOutcome` (after the
        COMMIT: acknowledge the deliver_sm from there). The receipts queued during one loop
        pass run as one op (see `MessageStore._queue_fact`)."""
        self._s._queue_fact(
            _op_receipt,
            (self._s._normalize_receipt, smsc_message_id, stat, now, err, raw, done_at),
            on_done,
        )

    def requeue_nowait(
        self,
        message_id: int,
        now: float,
        *,
        retry_at: float | None = None,
        error: str | None = None,
        on_done: OpCallback,
    ) -> None:
        """See `MessageStore.requeue`."""
        self._s._submit_nowait(_op_requeue, (message_id, now, retry_at, error), on_done)

    def release_nowait(
        self,
        message_id: int,
        now: float,
        *,
        until: float | None = None,
        reason: str | None = None,
        on_done: OpCallback,
    ) -> None:
        """See `MessageStore.release`."""
        self._s._submit_nowait(_op_release, (message_id, now, until, reason), on_done)

    def finalise_nowait(
        self,
        message_id: int,
        state: MessageState,
        now: float,
        *,
        error: str | None = None,
        on_done: OpCallback,
    ) -> None:
        """See `MessageStore.finalise`."""
        self._s._submit_nowait(_op_finalise, (message_id, state, now, error), on_done)

    async def aclose(self) -> None:
        """Close the store without blocking the loop (see `MessageStore.close`)."""
        await asyncio.to_thread(self._s.close)
