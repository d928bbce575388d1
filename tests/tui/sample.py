"""A fixed, deterministic night of traffic for the console tests and snapshots.

Two gateway binds and one simulator session, 24 messages through their whole life (some
throttled and retried, some undeliverable), an MO conversation, an active fault, four alerts,
one metrics snapshot (with per-bind rates) and a scenario half way through: `sample_events`.

`handset_night` adds what the handsets saw (`HandsetDelivered`: the delivered messages' text, a
quiet-hours delivery, a misdelivery, a relabelled sender and a spoof in the replier's ACME
thread) and a message sent after the replier's STOP; `campaign_night` adds three campaigns.
"""

from __future__ import annotations

from typing import Final

from sms.alphabet import Encoding
from sms.bus.events import (
    Alert,
    BindStateChanged,
    CampaignProgress,
    Event,
    ExpectationStatus,
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
    Throttled,
    WindowUse,
)
from sms.bus.topics import event_topic

#: 2026-01-01T00:00:00Z (09:00 in Tokyo).
T0: Final[float] = 1_767_225_600.0
GW: Final[tuple[str, str]] = ("gateway", "gw-1")
SIM: Final[tuple[str, str]] = ("simulator", "sim-1")
RUNNER: Final[tuple[str, str]] = ("scenario", "run-1")
#: Messages in the sample.
MESSAGES: Final[int] = 24
#: The handset that replies STOP and receives a spoof.
REPLIER: Final[str] = "09012340001"

Item = tuple[str, Event]


def _on(source: tuple[str, str], event: Event) -> Item:
    return (event_topic(source[0], source[1], event.kind), event)


def message_id(n: int) -> str:
    """The gateway id of sample message `n`."""
    return f"m{n:04d}"


def smsc_id(n: int) -> str:
    """The SMSC id of sample message `n`."""
    return f"S{n:06X}"


def number(n: int) -> str:
    """The handset of sample message `n` (eight handsets)."""
    return f"0901234{n % 8:04d}"


def binds() -> list[Item]:
    """Two gateway binds (b2 paused) and the simulator's session."""
    return [
        _on(
            GW,
            BindStateChanged(
                at=T0,
                component="gateway",
                instance="gw-1",
                bind_id="b1",
                system_id="acme",
                mode="transceiver",
                state="bound",
                peer="127.0.0.1:2775",
            ),
        ),
        _on(
            GW,
            BindStateChanged(
                at=T0,
                component="gateway",
                instance="gw-1",
                bind_id="b2",
                system_id="acme",
                mode="transmitter",
                state="bound",
                peer="127.0.0.1:2775",
                paused=True,
            ),
        ),
        _on(
            SIM,
            BindStateChanged(
                at=T0,
                component="simulator",
                instance="sim-1",
                bind_id="s1",
                system_id="acme",
                mode="transceiver",
                state="bound",
                peer="127.0.0.1:40001",
            ),
        ),
    ]


def message_life(n: int) -> list[Item]:
    """Sample message `n` from acceptance to its end (or to awaiting a receipt)."""
    at = T0 + 60 + n * 7
    mid, sid, dest = message_id(n), smsc_id(n), number(n)
    parts = 2 if n % 5 == 0 else 1
    items: list[Item] = [
        _on(
            GW,
            MessageAccepted(
                at=at,
                message_id=mid,
                message_key=f"row-{n}",
                source="ACME",
                destination=dest,
                parts=parts,
                encoding=Encoding.UCS2 if parts > 1 else Encoding.GSM7,
                campaign_id="dunning-jan",
            ),
        )
    ]
    throttled = n % 6 == 3
    for part in range(1, parts + 1):
        seq = n * 4 + part
        if throttled:
            items += [
                _on(
                    GW,
                    PartSubmitted(
                        at=at + 0.1,
                        message_id=mid,
                        part=part,
                        parts=parts,
                        sequence_number=seq,
                        bind_id="b1",
                    ),
                ),
                _on(
                    SIM,
                    SubmitReceived(
                        at=at + 0.11,
                        bind_id="s1",
                        sequence_number=seq,
                        source="ACME",
                        destination=dest,
                        command_status=0x58,
                    ),
                ),
                _on(
                    GW,
                    SubmitResponded(
                        at=at + 0.12,
                        message_id=mid,
                        part=part,
                        bind_id="b1",
                        sequence_number=seq,
                        command_status=0x58,
                        latency_ms=20.0,
                    ),
                ),
                _on(GW, Throttled(at=at + 0.12, bind_id="b1", message_id=mid, part=part)),
            ]
        items += [
            _on(
                GW,
                PartSubmitted(
                    at=at + 1,
                    message_id=mid,
                    part=part,
                    parts=parts,
                    sequence_number=seq + 100,
                    bind_id="b1",
                    attempt=2 if throttled else 1,
                ),
            ),
            _on(
                SIM,
                SubmitReceived(
                    at=at + 1.01,
                    bind_id="s1",
                    sequence_number=seq + 100,
                    source="ACME",
                    destination=dest,
                    command_status=0,
                    smsc_message_id=f"{sid}-{part}",
                    part=part if parts > 1 else None,
                    parts=parts if parts > 1 else None,
                ),
            ),
            _on(
                GW,
                SubmitResponded(
                    at=at + 1.02,
                    message_id=mid,
                    part=part,
                    bind_id="b1",
                    sequence_number=seq + 100,
                    command_status=0,
                    smsc_message_id=f"{sid}-{part}",
                    latency_ms=10.0 + n,
                ),
            ),
        ]
    if n >= MESSAGES - 4:
        return items  # the newest four still await their receipts
    stat = "UNDELIV" if n % 7 == 4 else "DELIVRD"
    for part in range(1, parts + 1):
        items += [
            _on(
                SIM,
                ReceiptSent(
                    at=at + 5,
                    smsc_message_id=f"{sid}-{part}",
                    stat=stat,
                    err="000" if stat == "DELIVRD" else "001",
                    destination=dest,
                    bind_id="s1",
                ),
            ),
            _on(
                GW,
                ReceiptReceived(
                    at=at + 5.01,
                    message_id=mid,
                    smsc_message_id=f"{sid}-{part}",
                    stat=stat,
                    err="000" if stat == "DELIVRD" else "001",
                    part=part,
                    bind_id="b1",
                ),
            ),
        ]
    items.append(
        _on(
            GW,
            MessageFinal(
                at=at + 5.02,
                message_id=mid,
                message_key=f"row-{n}",
                state="delivered" if stat == "DELIVRD" else "undeliverable",
                reason=None if stat == "DELIVRD" else "UNDELIV err 001",
                parts=parts,
                attempts=parts * (2 if throttled else 1),
                elapsed_ms=5020.0,
            ),
        )
    )
    return items


def conversation() -> list[Item]:
    """The replier answers STOP; later a spoofed sender lands in the same thread."""
    at = T0 + 400
    return [
        _on(SIM, MoSent(at=at, source=REPLIER, destination="ACME", text="STOP", bind_id="s1")),
        _on(
            GW,
            MoReceived(
                at=at + 0.2,
                source=REPLIER,
                destination="ACME",
                text="STOP",
                bind_id="b1",
                message_id="mo-0001",
            ),
        ),
    ]


def faults_and_alerts() -> list[Item]:
    """An active throttle fault and the four alert kinds that must stand out."""
    at = T0 + 500
    return [
        _on(
            SIM,
            FaultInjected(
                at=T0 + 30,
                fault_id="f-1",
                fault_kind="tps_throttle",
                target="acme",
                params={"max_tps": 5},
            ),
        ),
        _on(
            GW,
            Alert(
                at=at,
                alert_kind="throttling",
                severity="warning",
                detail="b1 throttled 4 times in 60 s",
            ),
        ),
        _on(
            SIM,
            Alert(
                at=at + 1,
                alert_kind="delivered_in_quiet_hours",
                severity="warning",
                destination=number(2),
                message_id=smsc_id(2) + "-1",
                detail="delivered 22:14 local",
            ),
        ),
        _on(
            SIM,
            Alert(
                at=at + 2,
                alert_kind="spoof_delivered_into_thread",
                severity="critical",
                destination=REPLIER,
                detail="sender 'ACME' spoofed by an unregistered route",
            ),
        ),
        _on(
            SIM,
            Alert(
                at=at + 3,
                alert_kind="misdelivery",
                severity="critical",
                destination=number(7),
                message_id=message_id(7),
                detail="number recycled on 2025-12-01; delivered to new owner",
            ),
        ),
    ]


def metrics() -> list[Item]:
    """One gateway metrics snapshot."""
    return [
        _on(
            GW,
            MetricsSnapshot(
                at=T0 + 600,
                seq=0,
                interval_s=1.0,
                counts={"accepted": MESSAGES},
                queues=QueueDepths(
                    queued=1200, in_flight=40, awaiting_receipt=4, retrying=3, scheduled=250
                ),
                windows={
                    "b1": WindowUse(in_flight=12, size=64),
                    "b2": WindowUse(in_flight=0, size=64),
                },
                bind_counts={"b1": {"submitted": 33, "throttled": 5}, "b2": {"submitted": 0}},
                bind_rates={"b1": {"submitted": 42.0, "throttled": 5.0}, "b2": {"submitted": 0.0}},
                latency={
                    "submit_resp": LatencySummary(
                        count=30, p50_ms=18.0, p95_ms=31.0, p99_ms=33.0, max_ms=34.0
                    ),
                    "receipt": LatencySummary(
                        count=20, p50_ms=4900.0, p95_ms=5200.0, p99_ms=5600.0, max_ms=5700.0
                    ),
                },
                errors={"0x00000058": 4},
                receipts={"DELIVRD": 17, "UNDELIV": 3},
            ),
        )
    ]


def scenario(phase: str = "running") -> list[Item]:
    """The scenario run, part way through."""
    return [
        _on(
            RUNNER,
            ScenarioProgress(
                at=T0 + 610,
                run_id="run-1",
                scenario="night-dunning",
                phase=phase,  # type: ignore[arg-type]
                elapsed_s=610.0,
                progress=0.42,
                expectations=(
                    ExpectationStatus(name="delivered_ratio", status="pass", detail="0.83 ≥ 0.80"),
                    ExpectationStatus(
                        name="no_misdelivery", status="fail", detail="1 misdelivery (m0007)"
                    ),
                    ExpectationStatus(name="quiet_hours_respected", status="pending"),
                ),
            ),
        )
    ]


def sample_events() -> list[Item]:
    """The whole sample, in publication order."""
    items = binds()
    for n in range(MESSAGES):
        items += message_life(n)
    return items + conversation() + faults_and_alerts() + metrics() + scenario()


#: Sample message relabelled by the sender registry on its way to the handset.
RELABELLED: Final[int] = 9
#: The sender the registry displays instead of ACME.
RELABEL: Final[str] = "ACME(unverified)"
#: The attacker's text in the replier's ACME thread.
SPOOF_TEXT: Final[str] = "ACME: final notice, pay now at acme-pay.example or lose service"


def dunning_text(n: int) -> str:
    """The MT text of sample message `n`."""
    return f"ACME: invoice {1000 + n} is overdue. Please pay by Jan 10. Reply STOP to opt out."


def handset_night() -> list[Item]:
    """What the handsets saw of the sample, plus a spoof and a send after opt-out."""
    items: list[Item] = []
    for n in range(MESSAGES - 4):
        if n % 7 == 4:
            continue  # undeliverable: never reached the handset
        at = T0 + 60 + n * 7 + 4.9
        items.append(
            _on(
                SIM,
                HandsetDelivered(
                    at=at,
                    destination=number(n),
                    sender=RELABEL if n == RELABELLED else "ACME",
                    text=dunning_text(n),
                    parts=2 if n % 5 == 0 else 1,
                    message_key=f"k:row-{n}#1",
                    thread_size=1 + n // 8,
                    relabelled=n == RELABELLED,
                    misdelivered=n == 7,
                    in_quiet_hours=n == 2,
                ),
            )
        )
    at = T0 + 520
    items += [
        _on(
            SIM,
            HandsetDelivered(
                at=at,
                destination=REPLIER,
                sender="ACME",
                text=SPOOF_TEXT,
                thread_size=4,
                spoofed=True,
            ),
        ),
        _on(
            GW,
            Alert(
                at=at + 5,
                alert_kind="sent_after_opt_out",
                severity="critical",
                destination=REPLIER,
                sender="ACME",
                message_key="row-24",
                detail="STOP received at 00:06:40",
            ),
        ),
    ]
    return items


def campaign_night() -> list[Item]:
    """Three campaigns: one sending (two updates), one awaiting approval, one sent unapproved."""
    return [
        _on(
            GW,
            CampaignProgress(
                at=T0 + 100,
                campaign_id="dunning-jan",
                name="January dunning",
                state="sending",
                created_by="sato",
                approved_by="tanaka",
                recipients=900,
                excluded={"owner_changed": 3, "invalid_number": 12},
                sent=300,
                deferred=120,
                states={"delivered": 250, "submitted": 40},
                replied=4,
                cost="1320.50",
            ),
        ),
        _on(
            GW,
            CampaignProgress(
                at=T0 + 600,
                campaign_id="dunning-jan",
                name="January dunning",
                state="sending",
                created_by="sato",
                approved_by="tanaka",
                recipients=900,
                excluded={"owner_changed": 3, "invalid_number": 12, "opted_out": 7},
                sent=700,
                deferred=150,
                states={"delivered": 610, "failed": 20, "expired": 5, "queued": 65},
                replied=19,
                cost="3080.00",
            ),
        ),
        _on(
            GW,
            CampaignProgress(
                at=T0 + 300,
                campaign_id="dunning-feb",
                name="February dunning (second notice)",
                state="draft",
                created_by="sato",
                recipients=1200,
                excluded={"duplicate": 40},
            ),
        ),
        _on(
            GW,
            CampaignProgress(
                at=T0 + 400,
                campaign_id="promo-x",
                name="Promo X",
                state="sending",
                created_by="intern",
                recipients=50,
                sent=50,
                states={"delivered": 48, "failed": 2},
                cost="220",
            ),
        ),
    ]
