"""What the carrier model asks the server to do: effects, each carrying its message key.

`CarrierNetwork.submit` returns a `SubmitOutcome` (the answer to the submit_sm plus what was
scheduled); `CarrierNetwork.advance(now)` returns the effects that fell due, in time order:

    ReceiptDue     send a deliver_sm receipt (esm_class 0x04, or 0x20 for ENROUTE) to `account`
    MoDue          send a deliver_sm carrying a subscriber's reply (one part) to `account`
    AlertDue       send alert_notification to `account`: a handset it asked about (set_dpf)
                   is reachable again
    NetworkEvent   publish a fact (delivered, misdelivery, spoof_blocked, opted_out, ...)

These are the model's own small types: `sms.bus.events` did not exist when this was written.
The server maps `NetworkEvent` onto bus events one to one (`kind` -> topic suffix).

Invariants:
    * Effects are slots dataclasses (aioquic style): past-tense facts or due actions, built once
      and never mutated by the model; consumers must treat them as immutable too. They are not
      `frozen=True` on purpose: a frozen dataclass's `__init__` costs about five times as much
      (1.8 µs against 0.34 µs for 17 fields, measured on 3.11) and several are built per message.
    * Every effect names the message key it derives from (`key`), so a report can join receipts,
      MO and audit events to the submit that caused them.
    * `at` is simulated epoch seconds; `advance` never returns an effect with `at > now`, and
      returns effects in (`at`, scheduling order) order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, TypeAlias

from simulator.smpp.constants import Tag
from sms.segments import Sar
from sms.udh import Concat

__all__ = [
    "ESM_CLASS_INTERMEDIATE",
    "ESM_CLASS_RECEIPT",
    "NETWORK_TYPE_GSM",
    "AlertDue",
    "Effect",
    "EventKind",
    "Fate",
    "MoDue",
    "NetworkEvent",
    "ReceiptDue",
    "SubmitOutcome",
]

#: esm_class of an SMSC delivery receipt (SMPP 3.4 §5.2.12, bits 5-2 = 0001).
ESM_CLASS_RECEIPT: Final[int] = 0x04
#: esm_class of an intermediate delivery notification (SMPP 3.4 §5.2.12, bits 5-2 = 1000).
ESM_CLASS_INTERMEDIATE: Final[int] = 0x20
#: network_error_code network type for GSM (SMPP 3.4 §5.3.2.31).
NETWORK_TYPE_GSM: Final[int] = 3

Detail: TypeAlias = Mapping[str, "str | int | float | bool | None"]


class EventKind(StrEnum):
    """Kinds of `NetworkEvent` (stable strings: they become bus topic suffixes)."""

    ACCEPTED = "accepted"
    """A submit entered the network."""
    REFUSED = "refused"
    """A submit was refused with a non-zero command_status (sender rules, flow control)."""
    FAULT_APPLIED = "fault_applied"
    """A configured fault changed the answer to a submit."""
    ATTEMPT_FAILED = "attempt_failed"
    """A delivery attempt failed (absent handset, storage full, outage); retries follow."""
    DELIVERED = "delivered"
    """A part reached the handset."""
    FAILED = "failed"
    """A part reached a final non-delivered state (UNDELIV, REJECTD, EXPIRED, UNKNOWN)."""
    MESSAGE_COMPLETED = "message_completed"
    """The handset shows a whole message (all parts, or the parts left at reassembly timeout)."""
    MISDELIVERY = "misdelivery"
    """A message reached a number's new owner (DELIVRD on the wire, a privacy incident)."""
    SPOOF_DELIVERED_INTO_THREAD = "spoof_delivered_into_thread"
    """A spoofed message sits in a thread that also holds the brand's genuine messages."""
    SPOOF_BLOCKED = "spoof_blocked"
    """The sender-ID registry stopped a spoofed message."""
    SENDER_RELABELLED = "sender_relabelled"
    """The registry displayed an unregistered sender as "Likely-SCAM"."""
    SENDER_REPLACED = "sender_replaced"
    """The domestic route replaced a sender the account may not use."""
    FILTERED = "filtered"
    """A recipient filter (reject all / international / dangerous) rejected the message."""
    DELIVERED_IN_QUIET_HOURS = "delivered_in_quiet_hours"
    """A part reached the handset inside the recipient's local quiet hours."""
    RECEIPT_LOST = "receipt_lost"
    """A receipt that was due is never sent (fault knob)."""
    REPLY_SENT = "reply_sent"
    """A subscriber replied (the MO parts follow as `MoDue`)."""
    OPTED_OUT = "opted_out"
    """A subscriber replied STOP / 停止."""
    SENT_AFTER_OPT_OUT = "sent_after_opt_out"
    """A message from an account reached a subscriber who had opted out of it."""


@dataclass(slots=True)
class Fate:
    """What the network decided for one part, relative to its submission time.

    Carrier outages are not part of it: they are decided at the delivery attempt against the
    live fault plan (`simulator.network.faults.CarrierOutageFault`), and show in the effects
    (`attempt_failed`, `failed`, the receipt) rather than here.

    Equal for equal (seed, scenario, key, config), whatever the arrival order: this is what the
    determinism property tests compare.
    """

    key: str
    """Message key (with its occurrence suffix)."""
    part: int
    """Part seq (1 for a single message)."""
    outcome: str
    """One of `config.OUTCOMES`, or a rule that decided it: "filtered", "blocked", "unassigned"."""
    stat: str
    """Final receipt stat: DELIVRD, EXPIRED, UNDELIV, REJECTD, UNKNOWN."""
    err: int
    """GSM MAP error code in the receipt."""
    final_after_s: float
    """Seconds from submission to the final state."""
    attempts_after_s: tuple[float, ...]
    """Seconds from submission of each failed delivery attempt (a retry failing at the
    give-up instant included; for EXPIRED the final state follows the last of them)."""
    displayed_sender: str
    """The sender string the handset shows (its thread key)."""
    reason: str = ""
    """Why, in a few words ("mix", "reject_all", "registry", "handset off", ...)."""
    first_attempt_s: float = 0.0
    """Latency of one delivery attempt (delivered fates): after a carrier outage the delivery is
    made this long after the outage ends."""
    available_after_s: float | None = None
    """Seconds from submission until an absent handset (off, storage full, away) is reachable
    again, when the model knows it; None when no attempt found it absent or it never returns
    in the model (an ``expired`` or ``memory_full`` draw of the outcome mix)."""


@dataclass(slots=True)
class ReceiptDue:
    """Send a delivery receipt (deliver_sm) to an ESME."""

    at: float
    """When to send it (epoch seconds)."""
    key: str
    """Message key of the submit it reports."""
    account: str
    """system_id to send it to (any bound receiver/transceiver of that account)."""
    message_id: str
    """The id written in the receipt (`id:` and receipted_message_id); may differ in format
    from the submit_sm_resp id when the `id_in_receipt` knob says so."""
    resp_message_id: str
    """The id that was returned in submit_sm_resp (for correlation in tests)."""
    part: int
    """Part seq the receipt reports."""
    stat: str
    """Stat word: DELIVRD, EXPIRED, UNDELIV, REJECTD, UNKNOWN, ENROUTE."""
    message_state: int
    """message_state TLV value (SMPP 3.4 §5.2.28)."""
    err: int
    """GSM MAP error code (`err:` field and network_error_code)."""
    text: str
    """The receipt text for short_message (SMPP 3.4 Appendix B; maybe damaged by a knob)."""
    source_addr: str
    """Receipt originator: the recipient's number as the ESME addressed it."""
    destination_addr: str
    """Receipt destination: the original source_addr."""
    esm_class: int
    """0x04 receipt, 0x20 intermediate notification."""
    submitted_at: float
    """When the message was submitted."""
    done_at: float
    """When the reported state was reached."""
    flags: frozenset[str] = frozenset()
    """Knobs that shaped it: duplicate, late, malformed, before_resp, fake, intermediate,
    slow (a `slow_receipts` fault)."""

    def tlvs(self) -> dict[int, bytes]:
        """The receipt TLVs: receipted_message_id, message_state, network_error_code.

        Returns:
            Tag -> value, ready for the PDU encoder.
        """
        return {
            int(Tag.RECEIPTED_MESSAGE_ID): self.message_id.encode("ascii") + b"\x00",
            int(Tag.MESSAGE_STATE): bytes((self.message_state,)),
            int(Tag.NETWORK_ERROR_CODE): bytes((NETWORK_TYPE_GSM,))
            + (self.err & 0xFFFF).to_bytes(2, "big"),
        }


@dataclass(slots=True)
class MoDue:
    """Send one part of a subscriber's reply (deliver_sm, mobile originated) to an ESME."""

    at: float
    """When to send it (epoch seconds)."""
    key: str
    """Key of the reply: `<message key>~reply`."""
    in_reply_to: str
    """Message key of the message being answered."""
    account: str
    """system_id to send it to (the account that sent the original)."""
    source_addr: str
    """The subscriber's number, as the original destination_addr was written."""
    destination_addr: str
    """The number replied to (the original's displayed sender)."""
    short_message: bytes
    """UDH (when `esm_class` has UDHI) + body."""
    data_coding: int
    """data_coding of the body."""
    esm_class: int
    """0x40 when `short_message` starts with a UDH, else 0."""
    sar: Sar | None
    """SAR TLV values when the reply is split with SAR."""
    concat: Concat | None
    """The UDH concatenation element, when split with UDH (also inside `short_message`)."""
    part: int
    """Part seq."""
    total: int
    """Parts in the reply."""
    text: str
    """The whole reply text (for reports; every part carries it)."""
    template: str
    """Reply template name."""


@dataclass(slots=True)
class NetworkEvent:
    """A fact for the bus and the reports."""

    at: float
    """When it happened (epoch seconds)."""
    kind: EventKind
    """What happened."""
    key: str
    """Message key it concerns ("" for none)."""
    account: str
    """system_id concerned ("" for none)."""
    number: str
    """Subscriber number concerned (national form when known; "" for none)."""
    detail: Detail = field(default_factory=dict)
    """Kind-specific values (stat, err, sender, brand, part, reason, ...)."""


@dataclass(slots=True)
class AlertDue:
    """Send alert_notification to an ESME: a subscriber it asked about is available again.

    Scheduled when a submit carrying set_dpf=1 found the handset absent (SMPP 3.4 §4.12): at
    the instant the model makes the handset reachable again, one per (account, ESME address,
    subscriber, instant).
    """

    at: float
    """When the handset became available (epoch seconds)."""
    key: str
    """Message key of the (first) submit that asked for it."""
    account: str
    """system_id to send it to (any bound receiver/transceiver of that account)."""
    number: str
    """The subscriber (national form)."""
    ms_addr: str
    """The subscriber's address as the ESME wrote it (alert source_addr)."""
    ms_ton: int
    """Its TON (the submit's dest_addr_ton)."""
    ms_npi: int
    """Its NPI (the submit's dest_addr_npi)."""
    esme_addr: str
    """The ESME address that asked (the submit's source_addr; alert esme_addr)."""
    esme_ton: int
    """Its TON."""
    esme_npi: int
    """Its NPI."""
    ms_availability_status: int = 0
    """ms_availability_status TLV (0x0422): 0 available, 1 denied, 2 unavailable."""


Effect: TypeAlias = ReceiptDue | MoDue | NetworkEvent | AlertDue
"""Anything `advance` returns."""


@dataclass(slots=True)
class SubmitOutcome:
    """The model's answer to one submit_sm."""

    status: int
    """command_status for submit_sm_resp / generic_nack (0 = ESME_ROK)."""
    message_id: str | None
    """Id for submit_sm_resp; None when refused."""
    key: str
    """Message key (with occurrence suffix) of an accepted submit; the attempt key otherwise."""
    part: int
    """Part seq."""
    respond: bool = True
    """False: send no answer (no_response fault)."""
    generic_nack: bool = False
    """True: answer with generic_nack(status) instead of submit_sm_resp."""
    response_delay_s: float = 0.0
    """Hold the answer back this long (response_delay fault)."""
    before_response: tuple[ReceiptDue, ...] = ()
    """Receipts to send *before* the answer (fault knob); not scheduled again."""
    scheduled: tuple[ReceiptDue, ...] = ()
    """Receipts queued for later (informational: `advance` returns the same objects when due;
    handset deliveries, replies and their audit events are produced by `advance` too)."""
    events: tuple[NetworkEvent, ...] = ()
    """Facts established at submission (accepted, refused, fault_applied, spoof_blocked, ...)."""
    fate: Fate | None = None
    """The part's fate when accepted into the network."""

    @property
    def accepted(self) -> bool:
        """True when the message entered the network."""
        return self.fate is not None
