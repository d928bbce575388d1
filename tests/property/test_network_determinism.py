"""Property: a message's fate depends on (seed, scenario, message key), never on arrival order.

The same messages (single and concatenated, to a mix of subscribers, with replies and receipt
knobs switched on) are submitted in two different orders; every per-message outcome must be the
same: fates, receipts (timing relative to submission, stat, err, flags), replies and audit
events. Only the SMSC message ids, which are an arrival-order counter, may differ.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import astuple
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.network import (
    CarrierNetwork,
    MoDue,
    NetworkConfig,
    NetworkEvent,
    ReceiptDue,
    SubmittedMessage,
)
from sms.udh import Concat

EPOCH = 1_767_225_600.0
NUMBERS = ["09011112222", "09033334444", "08055556666", "07077778888", "09099990000"]

CONFIG = NetworkConfig.model_validate(
    {
        "population": {"size": 50},
        "subscribers": [
            {"number": NUMBERS[0], "carrier": "docomo"},
            {
                "number": NUMBERS[1],
                "carrier": "au",
                "handset": [{"state": "off", "start_s": 0, "end_s": 5000}],
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
        "routes": {
            "domestic_direct": {
                "outcomes": {
                    "delivered": 0.6,
                    "expired": 0.1,
                    "unknown_subscriber": 0.1,
                    "rejected": 0.1,
                    "unknown": 0.05,
                    "system_failure": 0.05,
                }
            }
        },
        "absence": {"p_absent": 0.3},
        "receipts": {
            "loss_rate": 0.05,
            "duplicate_rate": 0.1,
            "late_rate": 0.1,
            "malformed_rate": 0.1,
            "before_resp_rate": 0.05,
        },
        "two_way": {"reply_probability": 0.5},
    }
)


@st.composite
def workloads(draw: st.DrawFn) -> list[tuple[float, SubmittedMessage]]:
    parts: list[tuple[float, SubmittedMessage]] = []
    # Identical submissions are told apart by their arrival count only (`<base>#n`), so they
    # must also arrive at the same time: a fate may depend on the submission instant (handset
    # and ownership windows), and swapping two identical messages sent at different instants
    # legitimately swaps their fates.
    arrival: dict[tuple[str, bytes, str | None, int], float] = {}
    count = draw(st.integers(1, 12))
    for i in range(count):
        dest = draw(st.sampled_from(NUMBERS))
        body = draw(st.sampled_from([b"pay", b"reminder", b"x" * 40])) + b"%d" % draw(
            st.integers(0, 3)
        )
        drawn = EPOCH + draw(st.integers(0, 600))
        owner = draw(st.sampled_from([None, "a"]))
        total = draw(st.sampled_from([1, 1, 2, 3]))
        at = arrival.setdefault((dest, body, owner, total), drawn)
        for seq in range(1, total + 1):
            concat = None if total == 1 else Concat(i % 256, total, seq)
            parts.append(
                (
                    at + seq,
                    SubmittedMessage(
                        "acme",
                        "00051234",
                        dest,
                        body + b"/%d" % seq,
                        concat=concat,
                        intended_owner=owner,
                        registered_delivery=0x11,
                    ),
                )
            )
    return parts


def _run(parts: list[tuple[float, SubmittedMessage]]) -> dict[str, Any]:
    net = CarrierNetwork(CONFIG, 99, "determinism")
    fates: Counter[Any] = Counter()
    found: Counter[Any] = Counter()
    for at, message in parts:
        outcome = net.submit(message, at)
        assert outcome.status == 0
        fates[(outcome.key, None if outcome.fate is None else astuple(outcome.fate))] += 1
        for r in outcome.before_response:
            found[("early", r.key, r.part, r.stat, r.err)] += 1
    for effect in net.advance(EPOCH + 10 * 86_400):
        if isinstance(effect, ReceiptDue):
            found[
                (
                    "receipt",
                    effect.key,
                    effect.part,
                    effect.stat,
                    effect.err,
                    round(effect.at - effect.submitted_at, 6),
                    effect.flags,
                )
            ] += 1
        elif isinstance(effect, MoDue):
            found[("mo", effect.key, effect.part, effect.text, effect.short_message)] += 1
        elif isinstance(effect, NetworkEvent):
            found[("event", effect.kind, effect.key)] += 1
    return {"fates": fates, "effects": found}


@settings(max_examples=60, deadline=None)
@given(data=st.data(), parts=workloads())
def test_arrival_order_does_not_change_outcomes(
    data: st.DataObject, parts: list[tuple[float, SubmittedMessage]]
) -> None:
    shuffled = data.draw(st.permutations(parts))
    assert _run(parts) == _run(list(shuffled))


def test_seed_changes_outcomes() -> None:
    parts = [
        (EPOCH + i, SubmittedMessage("acme", "00051234", NUMBERS[0], b"m%d" % i)) for i in range(50)
    ]
    first = [CarrierNetwork(CONFIG, 1, "s").submit(m, t).fate for t, m in parts]
    again = [CarrierNetwork(CONFIG, 1, "s").submit(m, t).fate for t, m in parts]
    other = [CarrierNetwork(CONFIG, 2, "s").submit(m, t).fate for t, m in parts]
    assert first == again
    assert first != other
