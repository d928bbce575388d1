"""Sender IDs: spoofed "NTT DOCOMO" under registry modes none / protected / relabel (DOMAIN §4)."""

from __future__ import annotations

from typing import Any

import pytest

from simulator.network import CarrierNetwork, EventKind
from simulator.network.senders import lookalike_key
from simulator.smpp.constants import CommandStatus
from tests.unit.network.helpers import DAY, EPOCH, events, msg, network, receipts, sub

VICTIM = "09011112222"
ACCOUNTS: dict[str, Any] = {
    # docomo's own notices: a domestic account allowed to send its brand name.
    "docomo": {"route": "domestic_direct", "alphanumeric_policy": "allow"},
    "fraud": {"route": "international", "attacker": True},
    "acme": {"route": "domestic_direct", "sender_codes": ["00051234"]},
}


def _net(mode: str) -> CarrierNetwork:
    return network(
        subscribers=[sub(VICTIM)],
        accounts=ACCOUNTS,
        registry={
            "mode": mode,
            "protected": [{"sender_id": "NTT DOCOMO", "accounts": ["docomo"]}],
        },
    )


def _genuine_then_spoof(net: CarrierNetwork, spoof_sender: str = "NTT DOCOMO") -> list[Any]:
    net.submit(
        msg(VICTIM, b"Your bill is ready", account="docomo", source="NTT DOCOMO", source_ton=5),
        EPOCH,
    )
    net.submit(
        msg(VICTIM, b"Unpaid! pay here", account="fraud", source=spoof_sender, source_ton=5),
        EPOCH + 60,
    )
    return net.advance(EPOCH + DAY)


def test_none_spoof_lands_in_the_genuine_thread() -> None:
    net = _net("none")
    effects = _genuine_then_spoof(net)
    (thread,) = net.handset(VICTIM).threads
    assert thread.sender == "NTT DOCOMO"
    assert thread.texts == ("Your bill is ready", "Unpaid! pay here")
    assert thread.has_genuine
    assert thread.has_spoof
    (merged,) = events(effects, EventKind.SPOOF_DELIVERED_INTO_THREAD)
    assert merged.account == "fraud"
    assert merged.detail["brand"] == "NTT DOCOMO"
    assert [r.stat for r in receipts(effects)] == ["DELIVRD", "DELIVRD"]


def test_none_spoof_before_genuine_is_reported_when_genuine_arrives() -> None:
    net = _net("none")
    net.submit(msg(VICTIM, b"Unpaid!", account="fraud", source="NTT DOCOMO", source_ton=5), EPOCH)
    first = net.advance(EPOCH + 100)
    assert events(first, EventKind.SPOOF_DELIVERED_INTO_THREAD) == []
    net.submit(
        msg(VICTIM, b"Bill", account="docomo", source="NTT DOCOMO", source_ton=5), EPOCH + 200
    )
    (merged,) = events(net.advance(EPOCH + DAY), EventKind.SPOOF_DELIVERED_INTO_THREAD)
    assert merged.account == "fraud"


def test_none_lookalike_opens_its_own_thread() -> None:
    net = _net("none")
    effects = _genuine_then_spoof(net, "NTT D0COMO")
    assert [t.sender for t in net.handset(VICTIM).threads] == ["NTT DOCOMO", "NTT D0COMO"]
    assert events(effects, EventKind.SPOOF_DELIVERED_INTO_THREAD) == []


@pytest.mark.parametrize(
    "sender", ["NTT DOCOMO", "NTT D0COMO", "ntt docomo", "NTTDOCOMO", "NTT DOC0M0", "NTT D0C0M0"]
)
def test_protected_blocks_exact_and_lookalikes(sender: str) -> None:
    net = _net("protected")
    outcome = net.submit(
        msg(VICTIM, b"Unpaid!", account="fraud", source=sender, source_ton=5), EPOCH
    )
    assert outcome.status == 0  # accepted at submit, screened in the network
    assert outcome.fate is not None
    assert (outcome.fate.stat, outcome.fate.err) == ("REJECTD", 15)
    (blocked,) = [e for e in outcome.events if e.kind is EventKind.SPOOF_BLOCKED]
    assert blocked.detail["brand"] == "NTT DOCOMO"
    assert [r.stat for r in receipts(net.advance(EPOCH + DAY))] == ["REJECTD"]
    assert net.handset(VICTIM).threads == ()


def test_protected_lets_the_brand_itself_through() -> None:
    net = _net("protected")
    _genuine_then_spoof(net)
    (thread,) = net.handset(VICTIM).threads
    assert thread.texts == ("Your bill is ready",)


def test_relabel_shows_likely_scam() -> None:
    net = _net("relabel")
    effects = _genuine_then_spoof(net)
    threads = {t.sender: t for t in net.handset(VICTIM).threads}
    assert threads["NTT DOCOMO"].texts == ("Your bill is ready",)
    assert threads["Likely-SCAM"].texts == ("Unpaid! pay here",)
    assert threads["Likely-SCAM"].messages[0].flags == {"spoof", "relabelled"}
    assert events(effects, EventKind.SPOOF_DELIVERED_INTO_THREAD) == []


def test_relabel_event_at_submit_and_unregistered_names_too() -> None:
    net = _net("relabel")
    outcome = net.submit(
        msg(VICTIM, b"Sale!", account="fraud", source="ShopX", source_ton=5), EPOCH
    )
    (event,) = [e for e in outcome.events if e.kind is EventKind.SENDER_RELABELLED]
    assert event.detail == {
        "sender": "ShopX",
        "displayed": "Likely-SCAM",
        "spoof": False,
        "brand": None,
    }


@pytest.mark.parametrize(("ton", "thread", "merged"), [(0, "00051234", 1), (1, "+00051234", 0)])
def test_numeric_code_spoof_via_international_route(ton: int, thread: str, merged: int) -> None:
    net = _net("none")
    net.submit(msg(VICTIM, b"Acme invoice", account="acme", source="00051234"), EPOCH)
    net.submit(
        msg(VICTIM, b"Acme: pay now", account="fraud", source="00051234", source_ton=ton),
        EPOCH + 60,
    )
    effects = net.advance(EPOCH + DAY)
    assert net.handset(VICTIM).threads[-1].sender == thread
    assert len(events(effects, EventKind.SPOOF_DELIVERED_INTO_THREAD)) == merged


def test_domestic_route_rules() -> None:
    net = network(
        subscribers=[sub(VICTIM)],
        accounts={
            "acme": {"sender_codes": ["00051234"]},
            "swap": {"sender_codes": ["00059999"], "alphanumeric_policy": "replace"},
        },
    )
    alnum = net.submit(msg(VICTIM, account="acme", source="ACME", source_ton=5), EPOCH)
    assert alnum.status == CommandStatus.ESME_RINVSRCADR
    foreign = net.submit(msg(VICTIM, account="acme", source="00050000"), EPOCH)
    assert foreign.status == CommandStatus.ESME_RINVSRCADR
    replaced = net.submit(msg(VICTIM, account="swap", source="SWAP", source_ton=5), EPOCH)
    assert replaced.status == 0
    assert replaced.fate is not None
    assert replaced.fate.displayed_sender == "00059999"
    assert any(e.kind is EventKind.SENDER_REPLACED for e in replaced.events)


def test_international_sender_validation_and_display() -> None:
    net = network(subscribers=[sub(VICTIM)], accounts={"intl": {"route": "international"}})
    too_long = net.submit(msg(VICTIM, account="intl", source="ABCDEFGHIJKL", source_ton=5), EPOCH)
    assert too_long.status == CommandStatus.ESME_RINVSRCADR
    numeric = net.submit(msg(VICTIM, account="intl", source="447700900123", source_ton=1), EPOCH)
    assert numeric.fate is not None
    assert numeric.fate.displayed_sender == "+447700900123"


def test_lookalike_key() -> None:
    assert lookalike_key("NTT D0COMO") == lookalike_key("ntt docomo") == lookalike_key("NTTDOCOMO")
    assert lookalike_key("PAYPA1") == lookalike_key("PayPal") == lookalike_key("PAYPAI")
    assert lookalike_key("NTT DOCOMO") != lookalike_key("NTT DOCONO")


def test_spoof_merge_becomes_a_bus_alert() -> None:
    from simulator.network.alerts import to_alert

    effects = _genuine_then_spoof(_net("none"))
    (merged,) = events(effects, EventKind.SPOOF_DELIVERED_INTO_THREAD)
    alert = to_alert(merged)
    assert alert is not None
    assert (alert.alert_kind, alert.severity) == ("spoof_delivered_into_thread", "critical")
    assert alert.message_key == merged.key
    assert alert.destination == VICTIM
    assert "brand=NTT DOCOMO" in alert.detail
    assert to_alert(events(effects, EventKind.DELIVERED)[0]) is None
