"""Receipts: granularity and policies, registered_delivery, TLVs and the fault knobs."""

from __future__ import annotations

import zoneinfo
from typing import Any

import pytest

from simulator.network import EventKind
from simulator.network.config import OUTCOMES
from simulator.smpp.constants import Tag
from sms.receipt import ReceiptParseError, parse_receipt
from sms.udh import Concat
from tests.unit.network.helpers import DAY, EPOCH, events, msg, network, receipts, sub

NUMBER = "09011112222"
TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")


def _long(net: Any, parts: int = 3, **fields: Any) -> list[Any]:
    return [
        net.submit(
            msg(NUMBER, b"part%d" % seq, concat=Concat(7, parts, seq), **fields), EPOCH + seq
        )
        for seq in range(1, parts + 1)
    ]


def test_receipt_text_tlvs_and_addresses() -> None:
    net = network(subscribers=[sub(NUMBER)])
    outcome = net.submit(msg("+819011112222", b"Your invoice #123 is due"), EPOCH)
    (r,) = receipts(net.advance(EPOCH + DAY))
    parsed = parse_receipt(r.text, tz=TOKYO)
    assert parsed.message_id == outcome.message_id == r.message_id
    assert (parsed.stat, parsed.err, parsed.sub, parsed.dlvrd) == ("DELIVRD", "000", 1, 1)
    assert parsed.text == "Your invoice #123 is"
    assert r.source_addr == "+819011112222"
    assert r.destination_addr == "00051234"
    assert r.esm_class == 0x04
    assert r.tlvs() == {
        Tag.RECEIPTED_MESSAGE_ID: r.message_id.encode() + b"\0",
        Tag.MESSAGE_STATE: b"\x02",
        Tag.NETWORK_ERROR_CODE: b"\x03\x00\x00",
    }
    assert outcome.scheduled == (r,)


def test_error_code_in_tlv() -> None:
    net = network(subscribers=[sub(NUMBER, outcome="expired")])
    net.submit(msg(NUMBER), EPOCH)
    (r,) = receipts(net.advance(EPOCH + 4 * DAY))
    assert r.tlvs()[Tag.NETWORK_ERROR_CODE] == b"\x03\x00\x1b"  # GSM, MAP error 27
    assert parse_receipt(r.text).err == "027"


@pytest.mark.parametrize(
    ("rd", "outcome", "count"),
    [
        (0, "delivered", 0),
        (1, "delivered", 1),
        (2, "delivered", 0),
        (2, "rejected", 1),
        (3, "delivered", 1),
        (3, "rejected", 0),
    ],
)
def test_registered_delivery(rd: int, outcome: str, count: int) -> None:
    net = network(subscribers=[sub(NUMBER, outcome=outcome)])
    net.submit(msg(NUMBER, registered_delivery=rd), EPOCH)
    assert len(receipts(net.advance(EPOCH + DAY))) == count


@pytest.mark.parametrize(
    ("policy", "parts"),
    [
        ("every_part", [1, 2, 3]),
        ("first_part", [1]),
        ("last_part", [3]),
    ],
)
def test_part_policies(policy: str, parts: list[int]) -> None:
    net = network(subscribers=[sub(NUMBER)], receipts={"policy": policy})
    outcomes = _long(net)
    found = receipts(net.advance(EPOCH + DAY))
    assert sorted(r.part for r in found) == parts
    ids = {o.part: o.message_id for o in outcomes}
    assert all(r.message_id == ids[r.part] for r in found)


def test_per_part_vs_per_message_timing() -> None:
    per_part = network(subscribers=[sub(NUMBER)], absence={"p_absent": 0.0})
    fates = [o.fate.final_after_s for o in _long(per_part)]
    assert len(set(fates)) == 3
    per_message = network(
        subscribers=[sub(NUMBER)],
        absence={"p_absent": 0.0},
        receipts={"granularity": "per_message"},
    )
    fates = [o.fate.final_after_s for o in _long(per_message)]
    assert len(set(fates)) == 1


def test_outcome_scope_part_lets_parts_differ() -> None:
    half = {k: 0.0 for k in OUTCOMES} | {"delivered": 0.5, "system_failure": 0.5}
    message_scope = network(
        subscribers=[sub(NUMBER, outcome=None)], routes={"domestic_direct": {"outcomes": half}}
    )
    part_scope = network(
        subscribers=[sub(NUMBER, outcome=None)],
        routes={"domestic_direct": {"outcomes": half}},
        receipts={"outcome_scope": "part"},
    )

    def stats(net: Any, ref: int) -> set[str]:
        found = set()
        for seq in (1, 2):
            fate = net.submit(msg(NUMBER, b"x", concat=Concat(ref, 2, seq)), EPOCH + ref).fate
            assert fate is not None
            found.add(fate.stat)
        return found

    mixed_message = sum(len(stats(message_scope, ref)) > 1 for ref in range(40))
    mixed_part = sum(len(stats(part_scope, ref)) > 1 for ref in range(40))
    assert mixed_message == 0
    assert mixed_part > 5


def test_before_response_knob() -> None:
    net = network(subscribers=[sub(NUMBER)], receipts={"before_resp_rate": 1.0})
    outcome = net.submit(msg(NUMBER), EPOCH)
    (early,) = outcome.before_response
    assert early.at == EPOCH
    assert "before_resp" in early.flags
    assert outcome.scheduled == ()
    assert receipts(net.advance(EPOCH + DAY)) == []


def test_duplicate_late_and_lost_knobs() -> None:
    dup = network(subscribers=[sub(NUMBER)], receipts={"duplicate_rate": 1.0})
    dup.submit(msg(NUMBER), EPOCH)
    first, second = receipts(dup.advance(EPOCH + DAY))
    assert second.text == first.text
    assert second.at == pytest.approx(first.at + 1.0)
    assert "duplicate" in second.flags

    late = network(subscribers=[sub(NUMBER)], receipts={"late_rate": 1.0})
    outcome = late.submit(msg(NUMBER), EPOCH)
    (r,) = receipts(late.advance(EPOCH + DAY))
    assert r.at == pytest.approx(EPOCH + outcome.fate.final_after_s + 3600)  # type: ignore[union-attr]

    lost = network(subscribers=[sub(NUMBER)], receipts={"loss_rate": 1.0})
    lost.submit(msg(NUMBER), EPOCH)
    effects = lost.advance(EPOCH + DAY)
    assert receipts(effects) == []
    assert len(events(effects, EventKind.RECEIPT_LOST)) == 1


def test_id_in_a_different_base() -> None:
    net = network(
        subscribers=[sub(NUMBER)],
        receipts={"id_in_receipt": "decimal"},
        message_ids={"start": 0xABC},
    )
    outcome = net.submit(msg(NUMBER), EPOCH)
    assert outcome.message_id == "0000000abc"
    (r,) = receipts(net.advance(EPOCH + DAY))
    assert r.message_id == "2748"
    assert r.resp_message_id == "0000000abc"
    assert parse_receipt(r.text).message_id == "2748"


def test_malformed_receipts() -> None:
    net = network(subscribers=[sub(NUMBER)], receipts={"malformed_rate": 1.0})
    for i in range(40):
        net.submit(msg(NUMBER, b"m%d" % i), EPOCH + i)
    broken = 0
    for r in receipts(net.advance(EPOCH + DAY)):
        assert "malformed" in r.flags
        try:
            parsed = parse_receipt(r.text)
        except ReceiptParseError:
            broken += 1
            continue
        broken += parsed.stat != "DELIVRD" or parsed.done_date is None
    assert broken == 40


def test_fake_delivered() -> None:
    net = network(
        subscribers=[sub(NUMBER, outcome="expired")], receipts={"fake_delivered_rate": 1.0}
    )
    net.submit(msg(NUMBER), EPOCH)
    effects = net.advance(EPOCH + 4 * DAY)
    (r,) = receipts(effects)
    assert r.stat == "DELIVRD"
    assert "fake" in r.flags
    assert events(effects, EventKind.DELIVERED) == []
    assert net.handset(NUMBER).threads == ()


def test_account_receipt_override() -> None:
    net = network(subscribers=[sub(NUMBER)], accounts={"quiet": {"receipts": {"loss_rate": 1.0}}})
    net.submit(msg(NUMBER), EPOCH)
    net.submit(msg(NUMBER, account="quiet"), EPOCH)
    assert [r.account for r in receipts(net.advance(EPOCH + DAY))] == ["acme"]
