"""Event models: every kind round-trips through the JSON codec; bad payloads raise typed errors."""

from __future__ import annotations

import json
from typing import Any

import pydantic
import pytest

from sms.alphabet import Encoding
from sms.bus.errors import EventDecodeError, UnknownEventKind, UnsupportedSchemaVersion
from sms.bus.events import (
    ALERT_KINDS,
    CONTROL_ACTIONS,
    EVENT_KINDS,
    EVENT_TYPES,
    SCHEMA_VERSION,
    Alert,
    BindStateChanged,
    CampaignProgress,
    Control,
    ControlAcknowledged,
    Event,
    ExpectationStatus,
    FaultCleared,
    FaultInjected,
    HandsetDelivered,
    LatencySummary,
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
    SubmitTimedOut,
    Throttled,
    WindowUse,
    decode_event,
    encode_event,
)

AT = 1_767_225_600.25

#: One fully populated example of every event kind (table-driven, as aiosmpplib TEST_MESSAGES).
EXAMPLES: list[tuple[str, Event]] = [
    (
        "bind bound",
        BindStateChanged(
            at=AT,
            component="gateway",
            instance="gw-1",
            bind_id="b1",
            system_id="acme",
            mode="transceiver",
            state="bound",
            peer="127.0.0.1:2775",
            command_status=0,
            paused=True,
        ),
    ),
    ("throttled", Throttled(at=AT, bind_id="b1", message_id="m1", part=2, backoff_ms=250.0)),
    (
        "accepted",
        MessageAccepted(
            at=AT,
            message_id="m1",
            message_key="row-17",
            source="ACME",
            destination="+819012345678",
            parts=3,
            encoding=Encoding.UCS2,
            campaign_id="dunning-2026-01",
            scheduled_for=AT + 3600,
        ),
    ),
    (
        "part submitted",
        PartSubmitted(
            at=AT, message_id="m1", part=2, parts=3, sequence_number=0x7FFFFFFF, bind_id="b1"
        ),
    ),
    (
        "submit responded",
        SubmitResponded(
            at=AT,
            message_id="m1",
            part=1,
            bind_id="b1",
            sequence_number=42,
            command_status=0x58,
            smsc_message_id=None,
            latency_ms=12.5,
        ),
    ),
    (
        "submit timed out",
        SubmitTimedOut(
            at=AT,
            message_id="m1",
            part=2,
            bind_id="b1",
            sequence_number=43,
            waited_ms=30_000.0,
        ),
    ),
    (
        "receipt received",
        ReceiptReceived(
            at=AT, message_id="m1", smsc_message_id="0A1B", stat="DELIVRD", part=1, bind_id="b1"
        ),
    ),
    (
        "submit received",
        SubmitReceived(
            at=AT,
            bind_id="s-3",
            system_id="acme",
            sequence_number=7,
            source="ACME",
            destination="819012345678",
            command_status=0,
            smsc_message_id="0A1B",
            part=1,
            parts=2,
        ),
    ),
    (
        "receipt sent",
        ReceiptSent(
            at=AT,
            smsc_message_id="0A1B",
            stat="UNDELIV",
            err="001",
            destination="819012345678",
            part=2,
            bind_id="s-3",
        ),
    ),
    (
        "final",
        MessageFinal(
            at=AT,
            message_id="m1",
            message_key="row-17",
            state="expired",
            reason="EXPIRED err:000",
            parts=3,
            attempts=4,
            elapsed_ms=86_400_000.0,
        ),
    ),
    (
        "mo received",
        MoReceived(
            at=AT,
            source="819012345678",
            destination="12345",
            text="支払いました 🙏",
            parts=2,
            reassembled=True,
            encoding=Encoding.UCS2,
            bind_id="b1",
            message_id="mo-9",
        ),
    ),
    ("mo sent", MoSent(at=AT, source="819012345678", destination="12345", text="STOP")),
    (
        "fault injected",
        FaultInjected(
            at=AT,
            fault_id="f1",
            fault_kind="throttle",
            target="b1",
            params={"rate": 5, "codes": [88, 20], "note": None, "nested": {"a": 1.5}},
            until=AT + 30,
        ),
    ),
    ("fault cleared", FaultCleared(at=AT, fault_id="f1", fault_kind="throttle", reason="expired")),
    (
        "alert",
        Alert(
            at=AT,
            alert_kind="spoof_delivered_into_thread",
            severity="critical",
            message_key="row-3",
            destination="819012345678",
            sender="ACME",
            detail="sender id ACME from an unregistered route",
        ),
    ),
    (
        "handset",
        HandsetDelivered(
            at=AT,
            destination="819012345678",
            sender="ACME",
            text="お支払い期限は本日です",
            parts=2,
            message_key="row-3",
            thread_size=4,
            spoofed=True,
        ),
    ),
    (
        "campaign",
        CampaignProgress(
            at=AT,
            campaign_id="c-1",
            name="November reminders",
            state="sending",
            created_by="sato",
            approved_by="tanaka",
            recipients=9_700,
            excluded={"invalid_number": 300, "owner_check_changed": 100},
            sent=5_000,
            states={"delivered": 4_900, "failed": 12},
            replied=31,
            cost="15600.00",
        ),
    ),
    (
        "metrics",
        MetricsSnapshot(
            at=AT,
            seq=3,
            interval_s=1.0,
            counts={"submitted": 1200},
            rates={"submitted": 400.0},
            gauges={"tokens": 3.5},
            queues=QueueDepths(queued=10, in_flight=2, awaiting_receipt=300, retrying=1),
            windows={"b1": WindowUse(in_flight=2, size=10)},
            latency={
                "submit_resp": LatencySummary(
                    count=400, p50_ms=4.0, p95_ms=9.0, p99_ms=15.0, max_ms=20.0
                )
            },
            errors={"0x00000058": 3},
            receipts={"DELIVRD": 280, "UNDELIV": 20},
        ),
    ),
    (
        "progress",
        ScenarioProgress(
            at=AT,
            run_id="r1",
            scenario="dunning",
            phase="running",
            elapsed_s=12.0,
            progress=0.5,
            expectations=(
                ExpectationStatus(name="no misdelivery", status="pass"),
                ExpectationStatus(name="p95 < 2s", status="pending", detail="1.2 s so far"),
            ),
        ),
    ),
    (
        "control",
        Control(
            at=AT,
            action="set_rate",
            correlation_id="c-1",
            args={"rate": 50, "bind_id": "b1"},
            requested_by="tui/ops",
        ),
    ),
    (
        "ack",
        ControlAcknowledged(
            at=AT,
            correlation_id="c-1",
            action="set_rate",
            component="gateway",
            instance="gw-1",
            ok=False,
            detail="no such bind",
            result={"binds": ["b2"]},
        ),
    ),
]


def test_examples_cover_every_kind() -> None:
    assert {event.kind for _, event in EXAMPLES} == EVENT_KINDS
    assert len(EVENT_TYPES) == len(EVENT_KINDS) == len(EXAMPLES)


@pytest.mark.parametrize(("desc", "event"), EXAMPLES, ids=[d for d, _ in EXAMPLES])
def test_round_trip(desc: str, event: Event) -> None:
    data = encode_event(event)
    assert isinstance(data, bytes)
    body = json.loads(data)
    assert body["schema_version"] == SCHEMA_VERSION
    assert body["kind"] == event.kind
    assert body["at"] == AT
    decoded = decode_event(data)
    assert type(decoded) is type(event)
    assert decoded == event
    assert decode_event(data.decode()) == event  # str input too


@pytest.mark.parametrize(("desc", "event"), EXAMPLES, ids=[d for d, _ in EXAMPLES])
def test_events_are_frozen(desc: str, event: Event) -> None:
    with pytest.raises(pydantic.ValidationError):
        event.at = 0.0


def test_kind_and_version_have_defaults() -> None:
    event = MoSent(at=1.0, source="8190", destination="123", text="hi")
    assert event.kind == "mo_sent"
    assert event.schema_version == 1


def test_timestamp_is_required() -> None:
    with pytest.raises(pydantic.ValidationError):
        MoSent(source="8190", destination="123", text="hi")  # type: ignore[call-arg]


def _payload(**overrides: Any) -> bytes:
    body = json.loads(encode_event(EXAMPLES[0][1]))
    body.update(overrides)
    return json.dumps(body).encode()


def test_unknown_kind_raises_typed_error() -> None:
    with pytest.raises(UnknownEventKind) as info:
        decode_event(_payload(kind="message_teleported"))
    assert info.value.kind == "message_teleported"
    assert isinstance(info.value, EventDecodeError)


def test_missing_kind_is_unknown_kind() -> None:
    body = json.loads(_payload())
    del body["kind"]
    with pytest.raises(UnknownEventKind) as info:
        decode_event(json.dumps(body))
    assert info.value.kind is None


@pytest.mark.parametrize("version", [2, 0, -1, "1", "2", None, [1]])
def test_other_schema_version_raises_typed_error(version: object) -> None:
    with pytest.raises(UnsupportedSchemaVersion) as info:
        decode_event(_payload(schema_version=version))
    assert info.value.supported == 1


def test_newer_version_wins_over_unknown_kind() -> None:
    # A v2 publisher may add kinds; the reader must say "version", not "kind".
    with pytest.raises(UnsupportedSchemaVersion):
        decode_event(_payload(schema_version=2, kind="brand_new_fact"))


def test_missing_version_means_version_1() -> None:
    body = json.loads(_payload())
    del body["schema_version"]
    assert decode_event(json.dumps(body)) == EXAMPLES[0][1]


def test_unknown_fields_are_ignored() -> None:
    # Tolerant reader: additive changes keep schema_version 1.
    assert decode_event(_payload(added_in_a_later_release=[1, 2])) == EXAMPLES[0][1]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "not JSON"),
        (b"{", "not JSON"),
        (b"\xff\xfe\x00", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'"alert"', "not a JSON object"),
        (b'{"kind": "alert", "at": 1, "alert_kind": "nonsense"}', "alert_kind"),
        (b'{"kind": "alert", "at": -5, "alert_kind": "misdelivery"}', "at"),
        (
            b'{"kind": "part_submitted", "at": 1, "message_id": "m", "part": 0,'
            b' "sequence_number": 1, "bind_id": "b"}',
            "part",
        ),
    ],
)
def test_invalid_payloads_raise_decode_error(payload: bytes, message: str) -> None:
    with pytest.raises(EventDecodeError, match=message) as info:
        decode_event(payload)
    assert not isinstance(info.value, UnknownEventKind | UnsupportedSchemaVersion)


def test_constants_list_literal_values() -> None:
    assert "misdelivery" in ALERT_KINDS
    assert "delivered_in_quiet_hours" in ALERT_KINDS
    assert set(CONTROL_ACTIONS) >= {
        "pause_bind",
        "resume_bind",
        "set_rate",
        "inject_fault",
        "clear_fault",
        "drain",
    }


def test_encoding_is_the_alphabet_enum() -> None:
    event = MessageAccepted(
        at=1.0, message_id="m", destination="8190", parts=1, encoding=Encoding.GSM7
    )
    assert json.loads(encode_event(event))["encoding"] == "gsm7"
    decoded = decode_event(encode_event(event))
    assert isinstance(decoded, MessageAccepted)
    assert decoded.encoding is Encoding.GSM7
