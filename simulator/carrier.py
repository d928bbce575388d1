"""Adapter: the carrier model (``simulator.network.CarrierNetwork``) as the server's handler.

``CarrierNetworkHandler`` implements the duck-typed ``simulator.smsc.Handler`` interface:

    handle_submit(Submission, now) -> Verdict     CarrierNetwork.submit(SubmittedMessage, now)
    advance(now) -> [ReceiptOrder | MoOrder | AlertOrder | Alert]   CarrierNetwork.advance(now)
    next_due() -> float | None                    the earlier of the model's and our own queue

``carrier_handler(section)`` builds it, and the scaled clock it runs on, from a configuration's
``network`` section.

Mapping (one to one, as the server's module docstring sketches):

* ``Submission`` -> ``SubmittedMessage``: account, addresses and TONs, the body without UDH, the
  part's place (UDH concatenation or SAR TLVs, already parsed by the server), data_coding,
  esm_class, registered_delivery, validity in seconds from submission, and the harness's vendor
  TLVs 0x1500-0x1502 (message key, intended owner, obtained date).
* The hot path: a submission without TLVs and without concatenation is first offered to
  ``CarrierNetwork.submit_single`` as its fields (the same values ``to_submitted`` would put in
  the ``SubmittedMessage``); when the model takes it, the verdict is ``Verdict(0, id)`` and no
  ``SubmittedMessage`` or ``SubmitOutcome`` is built. When it declines (or ``keep_outcomes``
  asks for the outcomes), the submission goes to ``CarrierNetwork.submit`` as below.
* ``SubmitOutcome`` -> ``Verdict``: status, the *network's* message id (the server stores the
  record under it, so submit_sm_resp, receipts and query_sm all agree), respond,
  generic_nack, response delay and the receipts due before the response.
* ``ReceiptDue`` -> ``ReceiptOrder`` keyed by ``resp_message_id`` (the stored id); the id written
  in the receipt (``message_id``) goes to ``receipt_id`` when it differs, and the model's
  receipt text (maybe deliberately damaged) is sent as is. ``advance`` hands the model a
  ``ReceiptMaker`` that builds the order from those fields, so the model returns the orders
  itself (a plain message's receipt is never built as a ``ReceiptDue``).
* submit_multi: the server answers (and stores) one id for all destinations: the network id
  of the first accepted destination (``Verdict.message_id``). Later destinations arrive with
  that id fixed (``Submission.message_id_fixed``); their network ids are aliased to it and
  their receipts keyed by it (``destination`` tells the handsets apart). Every stored id is
  therefore one the network made, and the server's own id sequence (which may have any form)
  is never stored next to the network's: the two cannot collide.
* cancel_sm / replace_sm are not forwarded (the model has no cancel); the server ignores the
  model's later receipts for a cancelled record.
* ``MoDue`` -> ``MoOrder`` carrying a ``DeliverSm`` (SAR TLVs when the reply is split with SAR).
* ``AlertDue`` -> ``AlertOrder`` carrying an ``AlertNotification`` (SMPP 3.4 §4.12: the MS
  address and TON/NPI as submitted, the ESME address that asked, ms_availability_status).
  The model schedules one when a submit with set_dpf=1 (TLV 0x0421, read here) found the
  handset absent; the alert falls due when the handset is reachable again.
* ``NetworkEvent`` -> ``sms.bus.events.Alert`` via ``simulator.network.alerts.to_alert`` for
  every audit fact the bus names (misdelivery, spoofs, quiet hours, relabelled / replaced
  senders, filtered, opt-outs, lost receipts); ``message_completed`` -> ``HandsetDelivered``
  (thread size and flags read from the handset's thread); the rest are wire facts the server
  publishes itself.
* Bus events are built only for a listener: the server calls ``set_publishing(False)`` when it
  has no bus, and then the model writes no audit facts (``CarrierNetwork.events``) and no
  alert or ``HandsetDelivered`` is built; fates, ids and receipts are the same either way.
* Session faults: ``session_decision`` / ``next_session_deadline`` forward to the model's hooks
  (the server carries out disconnect, unbind and stall); ``fault_plan`` is the model's live
  ``FaultPlan``, which ``simulator.control`` changes at runtime.

Invariants:
    * The adapter holds no fate logic: every decision is the model's (its Rule 1), so outcomes
      per message key are independent of arrival order and of the ESME's window.
    * Events established at submission (``SubmitOutcome.events``) are queued and returned by
      the next ``advance``; ``next_due`` reports them so the server ticks at once.
    * ``now`` passed to the model never goes backwards (the model requires it).
    * Memory is bounded: pending alerts are drained by the next ``advance``; the submit_multi
      aliases, the remembered E.164 digits of numbers and the optional outcome record are
      capped (oldest dropped first).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Final, TypeVar, cast

from simulator.config import NetworkSection
from simulator.network.alerts import to_alert
from simulator.network.effects import (
    ESM_CLASS_INTERMEDIATE,
    AlertDue,
    Effect,
    EventKind,
    MoDue,
    NetworkEvent,
    ReceiptDue,
    SubmitOutcome,
)
from simulator.network.faults import FaultPlan, SessionDecision
from simulator.network.messages import SubmittedMessage, vendor_fields
from simulator.network.network import CarrierNetwork
from simulator.smpp.constants import CommandId, Tag
from simulator.smpp.pdu import AlertNotification, DeliverSm, Tlv, tlv_u8, tlv_u16
from simulator.smsc import (
    AlertOrder,
    HandlerEffect,
    MoOrder,
    ReceiptOrder,
    Submission,
    Verdict,
)
from sms.bus.events import BaseEvent, HandsetDelivered
from sms.clock import ScaledClock
from sms.numbers import Msisdn, try_parse
from sms.segments import Sar

__all__ = ["CarrierNetworkHandler", "carrier_handler", "to_order", "to_submitted"]

logger = logging.getLogger("smsh.simulator.carrier")

_VENDOR_TAGS: Final[frozenset[int]] = frozenset({0x1500, 0x1501, 0x1502})
#: At most this many submit_multi destination ids are remembered (oldest dropped first).
MAX_ALIASES: Final[int] = 100_000

#: At most this many numbers' E.164 digits are remembered (``HandsetDelivered.destination``).
MAX_DIGITS: Final[int] = 100_000

_V = TypeVar("_V")


def _remember(table: OrderedDict[str, _V], key: str, value: _V, cap: int) -> None:
    table[key] = value
    while len(table) > cap:
        table.popitem(last=False)


def to_submitted(submission: Submission) -> SubmittedMessage:
    """Build the model's view of one submission.

    Args:
        submission: The server's checked submission (one destination).

    Returns:
        The ``SubmittedMessage`` for ``CarrierNetwork.submit``.
    """
    validity_s: float | None = None
    if submission.validity_at is not None:
        validity_s = max(submission.validity_at - submission.submitted_at, 0.0)
    tlvs = submission.tlvs
    if not tlvs:  # the common case: no vendor fields, no user_message_reference, no set_dpf
        return SubmittedMessage(
            submission.account,
            submission.source_addr,
            submission.destination_addr,
            submission.body,
            submission.data_coding,
            submission.source_addr_ton,
            submission.source_addr_npi,
            submission.esm_class,
            submission.registered_delivery,
            validity_s,
            submission.place,
            dest_ton=submission.dest_addr_ton,
            dest_npi=submission.dest_addr_npi,
        )
    umr: int | None = None
    set_dpf = False
    vendor = vendor_fields({tag: value for tag, value in tlvs if tag in _VENDOR_TAGS})
    for problem in vendor.problems:
        logger.warning("unreadable vendor TLV: %s", problem)
    for tag, value in tlvs:
        if tag == Tag.USER_MESSAGE_REFERENCE and len(value) == 2:
            umr = int.from_bytes(value, "big")
        elif tag == Tag.SET_DPF and len(value) == 1:
            set_dpf = value[0] == 1
    return SubmittedMessage(
        account=submission.account,
        source_addr=submission.source_addr,
        destination_addr=submission.destination_addr,
        short_message=submission.body,
        data_coding=submission.data_coding,
        source_ton=submission.source_addr_ton,
        source_npi=submission.source_addr_npi,
        esm_class=submission.esm_class,
        registered_delivery=submission.registered_delivery,
        validity_s=validity_s,
        concat=submission.place,
        user_message_reference=umr,
        message_key=vendor.message_key,
        intended_owner=vendor.intended_owner,
        obtained_date=vendor.obtained_date,
        dest_ton=submission.dest_addr_ton,
        dest_npi=submission.dest_addr_npi,
        set_dpf=set_dpf,
    )


def _receipt_order(due: ReceiptDue, stored_id: str | None = None) -> ReceiptOrder:
    """The server's receipt order; ``stored_id`` replaces the network's id (submit_multi)."""
    text = due.text
    own_id = due.message_id == due.resp_message_id
    if stored_id is not None and own_id:
        text = text.replace(f"id:{due.message_id}", f"id:{stored_id}", 1)
    return ReceiptOrder(
        due.done_at,
        stored_id or due.resp_message_id,
        due.stat,
        due.err,
        None if own_id else due.message_id,
        text,
        due.esm_class == ESM_CLASS_INTERMEDIATE,
        due.source_addr,
    )


def _mo_order(due: MoDue) -> MoOrder:
    tlvs: list[Tlv] = []
    sar: Sar | None = due.sar
    if sar is not None:
        tlvs += (
            tlv_u16(Tag.SAR_MSG_REF_NUM, sar.reference),
            tlv_u8(Tag.SAR_TOTAL_SEGMENTS, sar.total),
            tlv_u8(Tag.SAR_SEGMENT_SEQNUM, sar.seq),
        )
    pdu = DeliverSm(
        source_addr_ton=1 if due.source_addr.startswith("+") else 0,
        source_addr=due.source_addr.lstrip("+"),
        destination_addr=due.destination_addr,
        esm_class=due.esm_class,
        data_coding=due.data_coding,
        short_message=due.short_message,
        tlvs=tuple(tlvs),
    )
    return MoOrder(
        at=due.at, account=due.account, pdu=pdu, text=due.text, part=due.part, total=due.total
    )


def _alert_order(due: AlertDue) -> AlertOrder:
    pdu = AlertNotification(
        source_addr_ton=due.ms_ton,
        source_addr_npi=due.ms_npi,
        source_addr=due.ms_addr,
        esme_addr_ton=due.esme_ton,
        esme_addr_npi=due.esme_npi,
        esme_addr=due.esme_addr,
        tlvs=(tlv_u8(Tag.MS_AVAILABILITY_STATUS, due.ms_availability_status),),
    )
    return AlertOrder(at=due.at, account=due.account, pdu=pdu)


def to_order(effect: Effect) -> ReceiptOrder | MoOrder | AlertOrder | BaseEvent | None:
    """Map one model effect onto a handler effect.

    Args:
        effect: A ``ReceiptDue``, ``MoDue``, ``AlertDue`` or ``NetworkEvent``.

    Returns:
        The receipt order, MO order, alert_notification order or bus alert; None for events
        the bus has no alert for.
    """
    if isinstance(effect, ReceiptDue):
        return _receipt_order(effect)
    if isinstance(effect, MoDue):
        return _mo_order(effect)
    if isinstance(effect, AlertDue):
        return _alert_order(effect)
    return to_alert(effect)


class CarrierNetworkHandler:
    """The server's handler backed by a ``CarrierNetwork`` (see the module docstring)."""

    def __init__(self, network: CarrierNetwork, *, keep_outcomes: int = 0) -> None:
        """Wrap a carrier model.

        Args:
            network: The model; the handler owns its time line from now on.
            keep_outcomes: Remember the model's answer for this many of the latest accepted
                messages in ``outcomes`` (0: none; for reports and tests).
        """
        self.network = network
        self._keep = keep_outcomes
        self._pending: list[BaseEvent] = []
        self._last = float("-inf")
        self._aliases: OrderedDict[str, str] = OrderedDict()
        self._digits: OrderedDict[str, str] = OrderedDict()
        self.outcomes: OrderedDict[str, SubmitOutcome] = OrderedDict()
        """The model's answer per accepted network message id (see ``keep_outcomes``)."""

    @property
    def publishing(self) -> bool:
        """Whether bus events (alerts, ``HandsetDelivered``) are built (default True)."""
        return self.network.events

    def set_publishing(self, on: bool) -> None:
        """Say whether anyone publishes the bus events this handler returns.

        The server calls it once when it is built (True when it has a bus). Off, the model
        builds no ``NetworkEvent`` and ``advance`` returns only receipt and MO orders.

        Args:
            on: True when the events are published.
        """
        self.network.events = on

    def handle_submit(self, submission: Submission, now: float) -> Verdict:
        """Submit one part to the model and translate its answer.

        Args:
            submission: The checked submission.
            now: Simulated epoch seconds.

        Returns:
            The verdict: status, the network's id, response behaviour, early receipts.
        """
        if not submission.tlvs and submission.place is None and not self._keep:
            # The common case: a plain single message, taken without building the model's
            # `SubmittedMessage` and `SubmitOutcome` (None: it needs `submit`).
            validity_at = submission.validity_at
            network_id = self.network.submit_single(
                submission.account,
                submission.source_addr,
                submission.source_addr_ton,
                submission.destination_addr,
                submission.body,
                submission.data_coding,
                submission.esm_class,
                submission.registered_delivery,
                None if validity_at is None else max(validity_at - submission.submitted_at, 0.0),
                now,
                submission.source_addr_npi,
                submission.dest_addr_ton,
                submission.dest_addr_npi,
            )
            if network_id is not None:
                if (
                    submission.message_id_fixed
                    and submission.command_id == CommandId.SUBMIT_MULTI
                    and submission.message_id != network_id
                ):
                    _remember(self._aliases, network_id, submission.message_id, MAX_ALIASES)
                return Verdict(0, network_id)
        outcome = self.network.submit(to_submitted(submission), now)
        if outcome.events:
            for event in outcome.events:
                alert = to_alert(event)
                if alert is not None:
                    self._pending.append(alert)
        network_id = outcome.message_id
        stored_id: str | None = None
        if network_id is not None and outcome.status == 0:
            if self._keep > 0:
                _remember(self.outcomes, network_id, outcome, self._keep)
            if (
                submission.command_id == CommandId.SUBMIT_MULTI
                and submission.message_id_fixed
                and submission.message_id != network_id
            ):
                stored_id = submission.message_id
                _remember(self._aliases, network_id, stored_id, MAX_ALIASES)
        return Verdict(
            outcome.status,
            network_id,
            outcome.respond,
            outcome.generic_nack,
            outcome.response_delay_s,
            tuple(_receipt_order(r, stored_id) for r in outcome.before_response)
            if outcome.before_response
            else (),
        )

    def advance(self, now: float) -> list[HandlerEffect]:
        """Return the orders and alerts that fell due by ``now``.

        Args:
            now: Simulated epoch seconds.

        Returns:
            Submission-time alerts first, then the model's due effects in time order.
        """
        if now < self._last:
            now = self._last
        self._last = now
        out: list[HandlerEffect] = list(self._pending)
        self._pending.clear()
        effects = self.network.advance(now, self._receipt)
        for effect in effects:
            if type(effect) is ReceiptOrder:  # the common effect first (effects are not subclassed)
                out.append(effect)
                continue
            if isinstance(effect, NetworkEvent) and effect.kind is EventKind.MESSAGE_COMPLETED:
                out.append(self.handset_delivered(effect))
                continue
            order = to_order(cast(Effect, effect))
            if order is not None:
                out.append(order)
        return out

    def _receipt(
        self,
        done_at: float,
        resp_id: str,
        stat: str,
        err: int,
        receipt_id: str | None,
        text: str,
        intermediate: bool,
        destination: str,
    ) -> ReceiptOrder:
        """The server's receipt order for a receipt of the model (`ReceiptMaker`): as
        `_receipt_order`, keyed by the submit_multi's stored id when the network id has one."""
        if self._aliases:
            stored_id = self._aliases.get(resp_id)
            if stored_id is not None:
                if receipt_id is None:
                    text = text.replace(f"id:{resp_id}", f"id:{stored_id}", 1)
                resp_id = stored_id
        return ReceiptOrder(
            done_at, resp_id, stat, err, receipt_id, text, intermediate, destination
        )

    def next_due(self) -> float | None:
        """Simulated epoch seconds of the next due effect, or None when idle."""
        due = self.network.next_due()
        if self._pending:
            first = min(e.at for e in self._pending)
            return first if due is None else min(first, due)
        return due

    @property
    def fault_plan(self) -> FaultPlan:
        """The model's live fault plan (``simulator.control`` adds and removes faults in it)."""
        return self.network.fault_plan

    def handset_delivered(self, event: NetworkEvent) -> HandsetDelivered:
        """The bus event for a ``message_completed`` fact: the message as the handset shows it.

        Args:
            event: The model's ``message_completed`` event (detail: sender, parts, text).

        Returns:
            ``HandsetDelivered`` with the thread size and flags of the filed message (found in
            its thread by key and time; when the thread no longer holds it, the thread's size
            and no flags).
        """
        info = event.detail
        sender = str(info.get("sender") or "")
        flags: frozenset[str] = frozenset()
        size = 1
        thread = self.network.handset(event.number).thread(sender)
        if thread is not None:
            size = max(len(thread.messages), 1)
            for index in range(len(thread.messages) - 1, -1, -1):
                message = thread.messages[index]
                if message.at == event.at and event.key in message.keys:
                    flags = message.flags
                    size = index + 1
                    break
        parts = info.get("parts")
        destination = self._digits.get(event.number)
        if destination is None:
            number = try_parse(event.number)
            destination = number.digits if isinstance(number, Msisdn) else event.number
            _remember(self._digits, event.number, destination, MAX_DIGITS)
        return HandsetDelivered(
            at=event.at,
            destination=destination,
            sender=sender,
            text=str(info.get("text") or ""),
            parts=parts if isinstance(parts, int) and parts >= 1 else 1,
            message_key=event.key or None,
            thread_size=size,
            spoofed="spoof" in flags,
            relabelled="relabelled" in flags,
            misdelivered="misdelivery" in flags,
            in_quiet_hours="quiet_hours" in flags,
        )

    def session_decision(
        self, now: float, account: str, *, pdus_received: int, bound_at: float
    ) -> SessionDecision:
        """What the server must do to a session now (the model's session-phase faults).

        Args:
            now: Simulated epoch seconds.
            account: The session's system_id.
            pdus_received: PDUs the session received so far (bind included).
            bound_at: Simulated epoch seconds of its bind.

        Returns:
            The model's decision (disconnect, unbind, stall or none).
        """
        return self.network.session_decision(
            now, account, pdus_received=pdus_received, bound_at=bound_at
        )

    def next_session_deadline(self, now: float, account: str) -> float | None:
        """The next instant a time-triggered session fault fires for an account.

        Args:
            now: Simulated epoch seconds.
            account: The system_id.

        Returns:
            Simulated epoch seconds, or None.
        """
        return self.network.next_session_deadline(now, account)


def carrier_handler(section: NetworkSection) -> tuple[CarrierNetworkHandler, ScaledClock]:
    """The carrier model a configuration's ``network`` section describes, ready for the server.

    A ``network`` section alone does not switch the model on in ``SimulatorServer``: give it
    the handler and the clock returned here (``smsh simulator``, the pytest plugin and the
    benchmarks all build the model this way).

    Args:
        section: The configuration's ``network`` section.

    Returns:
        A handler over a new ``CarrierNetwork`` (``handler.network``), and the simulated clock
        that starts at the network's epoch and runs at the section's speed.
    """
    network = CarrierNetwork(section.config, section.seed, section.scenario_id)
    clock = ScaledClock(start=section.config.epoch_s, speed=section.speed)
    return CarrierNetworkHandler(network), clock
