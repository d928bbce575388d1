"""Property: the carrier model's hot-path shortcuts change nothing but the cost.

`CarrierNetwork(..., shortcuts=False)` forces the general path everywhere (the fate's full
decision tree, eager handset filing). The same workload, in the same order, must give the same
answers, fates, receipts (texts included), MO replies, audit facts and handsets with the
shortcuts on and off, with events on and off. The workloads mix what the shortcuts must
decline: concatenated parts, absent and switched-off handsets, replyable numeric senders next
to one-way alphanumeric ones, a protected brand (spoof bookkeeping), intended owners
(misdelivery), every data_coding the handset decodes plus one it cannot.
"""

from __future__ import annotations

from dataclasses import astuple
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.network import CarrierNetwork, NetworkConfig, SubmittedMessage
from sms.udh import Concat

EPOCH = 1_767_225_600.0
NUMBERS = ["09011112222", "09033334444", "08055556666", "07077778888", "09099990000"]
SENDERS = [("00051234", 0), ("ACME", 5), ("DOCOMO", 5), ("+819012345678", 1)]
BODIES = [
    (b"pay now", 0x00),
    ("お支払いのお願い".encode("utf-16-be"), 0x08),
    (b"caf\xe9 ok", 0x03),
    (b"\x01\x02binary", 0x04),
    (b"odd coding", 0x0B),
    (b"x" * 60, 0x00),
]


def _config(replies: bool, plain: bool, fixed: bool) -> NetworkConfig:
    receipts: dict[str, Any] = {"loss_rate": 0.05, "intermediate": True}
    if not plain:  # knobs the plain-receipt shortcut must decline
        receipts |= {"duplicate_rate": 0.1, "late_rate": 0.1, "id_in_receipt": "decimal"}
    return NetworkConfig.model_validate(
        {
            "population": {"size": 40},
            "subscribers": [
                {"number": NUMBERS[0], "carrier": "docomo"},
                {
                    "number": NUMBERS[1],
                    "carrier": "au",
                    "handset": [{"state": "off", "start_s": 0, "end_s": 4000}],
                },
                {"number": NUMBERS[2], "carrier": "SoftBank", "reply_probability": 1.0},
                {
                    "number": NUMBERS[3],
                    "carrier": "Rakuten",
                    "ownership": [
                        {"owner": "a", "active_from": "2015-01-01", "active_to": "2024-01-01"},
                        {"owner": "b", "active_from": "2024-08-01"},
                    ],
                },
            ],
            "default_account": {"alphanumeric_policy": "allow", "max_tps": None},
            "registry": {"mode": "protected", "protected": [{"sender_id": "DOCOMO"}]},
            "absence": {"p_absent": 0.3},
            "receipts": receipts,
            # Fixed delays make many effects fall due at the same instant (order ties).
            "routes": {"domestic_direct": {"latency": {"kind": "fixed", "seconds": 5}}}
            if fixed
            else {},
            "two_way": {"enabled": replies, "reply_probability": 0.5},
        }
    )


CONFIGS = {
    (r, p, f): _config(r, p, f) for r in (True, False) for p in (True, False) for f in (True, False)
}


@st.composite
def workloads(draw: st.DrawFn) -> list[tuple[float, SubmittedMessage]]:
    parts: list[tuple[float, SubmittedMessage]] = []
    at = EPOCH
    for i in range(draw(st.integers(1, 14))):
        at += draw(st.sampled_from([0, 0, 1, 4, 5, 60, 900]))
        dest = draw(st.sampled_from(NUMBERS))
        source, ton = draw(st.sampled_from(SENDERS))
        body, coding = draw(st.sampled_from(BODIES))
        owner = draw(st.sampled_from([None, None, "a"]))
        total = draw(st.sampled_from([1, 1, 1, 2]))
        for seq in range(1, total + 1):
            at += 1
            parts.append(
                (
                    at,
                    SubmittedMessage(
                        "acme",
                        source,
                        dest,
                        body + b"%d" % seq,
                        coding,
                        source_ton=ton,
                        concat=None if total == 1 else Concat(i % 256, total, seq),
                        intended_owner=owner,
                        registered_delivery=draw(st.sampled_from([0x01, 0x11, 0x02, 0x03, 0x00])),
                    ),
                )
            )
    return parts


def _run(
    parts: list[tuple[float, SubmittedMessage]],
    config: tuple[bool, bool, bool],
    events: bool,
    shortcuts: bool,
) -> dict[str, Any]:
    net = CarrierNetwork(CONFIGS[config], 5, "shortcuts", events=events, shortcuts=shortcuts)
    answers: list[Any] = []
    effects: list[Any] = []
    for at, message in parts:
        effects += net.advance(at)
        o = net.submit(message, at)
        fate = None if o.fate is None else astuple(o.fate)
        answers.append((o.status, o.message_id, o.key, fate, o.before_response, o.scheduled))
        answers.append(o.events)
    effects += net.advance(EPOCH + 10 * 86_400)
    handsets = {n: net.handset(n) for n in [*NUMBERS, *net.population.numbers()]}
    return {"answers": answers, "effects": effects, "handsets": handsets}


@settings(max_examples=200, deadline=None)
@given(
    parts=workloads(),
    config=st.tuples(st.booleans(), st.booleans(), st.booleans()),
    events=st.booleans(),
)
def test_shortcuts_change_nothing(
    parts: list[tuple[float, SubmittedMessage]], config: tuple[bool, bool, bool], events: bool
) -> None:
    assert _run(parts, config, events, True) == _run(parts, config, events, False)


def test_the_shortcuts_are_taken() -> None:
    """An ordinary run defers its handset filings (so the property above can fail)."""
    parts = [
        (
            EPOCH + i,
            SubmittedMessage(
                "acme", SENDERS[i % 2][0], NUMBERS[i % 3], b"m%d" % i, source_ton=SENDERS[i % 2][1]
            ),
        )
        for i in range(200)
    ]
    runs = []
    for shortcuts in (True, False):
        net = CarrierNetwork(
            CONFIGS[(False, True, False)], 5, "shortcuts", events=False, shortcuts=shortcuts
        )
        for at, message in parts:
            net.submit(message, at)
        net.advance(EPOCH + 10 * 86_400)
        deferred = sum(
            isinstance(m, tuple)
            for inbox in net._inboxes.values()
            for thread in inbox._threads.values()
            for m in thread.messages
        )
        runs.append((deferred, {n: net.handset(n) for n in NUMBERS}))
    (deferred_on, handsets_on), (deferred_off, handsets_off) = runs
    assert deferred_on > 100
    assert deferred_off == 0
    assert handsets_on == handsets_off
    assert sum(len(t.messages) for h in handsets_on.values() for t in h.threads) > 100
