"""The event bus: versioned event models, topics, in-memory and MQTT transports.

The one I/O corner of `sms`. Components publish past-tense facts (`sms.bus.events`) on topics
``smsh/v1/{component}/{instance}/{kind}`` (`sms.bus.topics`) through a `Bus`: `InMemoryBus`
inside one process, `MqttBus` across processes (`bus_from_url` picks one). Operators act through
control messages (`ControlChannel`); high-rate measurements are folded into one
`MetricsSnapshot` per second by `MetricsAggregator`.
"""

from __future__ import annotations

from sms.bus.bus import DEFAULT_MAXSIZE, Bus, BusStats, OverflowPolicy, Publisher, Subscription
from sms.bus.control import ControlChannel, ControlHandler, ControlRefused
from sms.bus.errors import (
    BusClosed,
    BusError,
    BusUrlError,
    ControlError,
    ControlTimeout,
    EventDecodeError,
    MetricsError,
    SubscriptionNotActive,
    TopicError,
    UnknownEventKind,
    UnsupportedSchemaVersion,
)
from sms.bus.events import (
    SCHEMA_VERSION,
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
    ReceiptReceived,
    ReceiptSent,
    ScenarioProgress,
    SubmitReceived,
    SubmitResponded,
    SubmitTimedOut,
    Throttled,
    decode_event,
    encode_event,
)
from sms.bus.memory import InMemoryBus
from sms.bus.metrics import BIND_SUBMITTED, BIND_THROTTLED, LogHistogram, MetricsAggregator
from sms.bus.mqtt import MqttBus
from sms.bus.topics import (
    ALL_INSTANCES,
    TopicParts,
    control_pattern,
    control_topic,
    event_pattern,
    event_topic,
    parse_topic,
    topic_matches,
)
from sms.bus.url import bus_from_url

__all__ = [
    "ALL_INSTANCES",
    "BIND_SUBMITTED",
    "BIND_THROTTLED",
    "DEFAULT_MAXSIZE",
    "SCHEMA_VERSION",
    "Alert",
    "BindStateChanged",
    "Bus",
    "BusClosed",
    "BusError",
    "BusStats",
    "BusUrlError",
    "CampaignProgress",
    "Control",
    "ControlAcknowledged",
    "ControlChannel",
    "ControlError",
    "ControlHandler",
    "ControlRefused",
    "ControlTimeout",
    "Event",
    "EventDecodeError",
    "FaultCleared",
    "FaultInjected",
    "HandsetDelivered",
    "InMemoryBus",
    "LogHistogram",
    "MessageAccepted",
    "MessageFinal",
    "MetricsAggregator",
    "MetricsError",
    "MetricsSnapshot",
    "MoReceived",
    "MoSent",
    "MqttBus",
    "OverflowPolicy",
    "PartSubmitted",
    "Publisher",
    "ReceiptReceived",
    "ReceiptSent",
    "ScenarioProgress",
    "SubmitReceived",
    "SubmitResponded",
    "SubmitTimedOut",
    "Subscription",
    "SubscriptionNotActive",
    "Throttled",
    "TopicError",
    "TopicParts",
    "UnknownEventKind",
    "UnsupportedSchemaVersion",
    "bus_from_url",
    "control_pattern",
    "control_topic",
    "decode_event",
    "encode_event",
    "event_pattern",
    "event_topic",
    "parse_topic",
    "topic_matches",
]
