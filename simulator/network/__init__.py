"""Pure carrier model: subscribers, carriers, ownership history (recycling), routes and sender-ID
rules, handsets and threads, delivery outcomes and latency, receipts, MO.

The server-facing surface is `CarrierNetwork` (submit / advance / next_due, owner check,
handset views, session faults), `SubmittedMessage` in, and the effect types out. Everything is
pure: time and seeds are arguments (ARCHITECTURE.md rules 1 and 4).
"""

from __future__ import annotations

from simulator.network.config import NetworkConfig
from simulator.network.effects import (
    AlertDue,
    Effect,
    EventKind,
    Fate,
    MoDue,
    NetworkEvent,
    ReceiptDue,
    SubmitOutcome,
)
from simulator.network.errors import NetworkConfigError, NetworkModelError
from simulator.network.faults import (
    FaultPlan,
    SessionAction,
    SessionDecision,
    SubmitDecision,
    outage_decision,
    receipt_extra_delay,
    session_decision,
    submit_decision,
)
from simulator.network.handsets import HandsetView, InboxMessage, ThreadView
from simulator.network.messages import (
    TLV_HARNESS_MESSAGE_KEY,
    TLV_INTENDED_OWNER,
    TLV_OBTAINED_DATE,
    SubmittedMessage,
    VendorFields,
    vendor_fields,
)
from simulator.network.network import CarrierNetwork
from simulator.network.ownership import NumberHistory, OwnerCheckResult, OwnerStatus

__all__ = [
    "TLV_HARNESS_MESSAGE_KEY",
    "TLV_INTENDED_OWNER",
    "TLV_OBTAINED_DATE",
    "AlertDue",
    "CarrierNetwork",
    "Effect",
    "EventKind",
    "Fate",
    "FaultPlan",
    "HandsetView",
    "InboxMessage",
    "MoDue",
    "NetworkConfig",
    "NetworkConfigError",
    "NetworkEvent",
    "NetworkModelError",
    "NumberHistory",
    "OwnerCheckResult",
    "OwnerStatus",
    "ReceiptDue",
    "SessionAction",
    "SessionDecision",
    "SubmitDecision",
    "SubmitOutcome",
    "SubmittedMessage",
    "ThreadView",
    "VendorFields",
    "outage_decision",
    "receipt_extra_delay",
    "session_decision",
    "submit_decision",
    "vendor_fields",
]
