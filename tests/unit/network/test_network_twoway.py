"""Two-way: replies with delay, long concatenated replies (UDH / SAR), STOP / 停止."""

from __future__ import annotations

from typing import Any

import pytest

from simulator.network import CarrierNetwork, EventKind
from sms.segments import Reassembler, Sar
from sms.udh import Concat, split_udh
from tests.unit.network.helpers import DAY, EPOCH, events, mos, msg, network, sub

NUMBER = "09011112222"


def _net(template: str | None, probability: float = 1.0, **two_way: Any) -> CarrierNetwork:
    return network(
        subscribers=[sub(NUMBER, reply_probability=probability, reply_template=template)],
        two_way={"enabled": True, **two_way},
    )


def _reassemble(parts: list[Any]) -> str:
    r = Reassembler()
    out = []
    for mo in parts:
        body = mo.short_message
        part: Concat | Sar | None = mo.sar
        if mo.esm_class & 0x40:
            udh, body = split_udh(mo.short_message)
            part = udh.concat
        out.extend(
            r.add(
                mo.source_addr, mo.destination_addr, part, body, mo.at, data_coding=mo.data_coding
            )
        )
    (whole,) = out
    assert whole.complete
    return whole.text


def test_short_reply_after_a_delay() -> None:
    net = _net("paid")
    net.submit(msg(NUMBER, b"Please pay 3,000 yen"), EPOCH)
    effects = net.advance(EPOCH + DAY)
    (mo,) = mos(effects)
    assert mo.text == "払いました"
    assert mo.total == 1
    assert mo.esm_class == 0
    assert mo.source_addr == NUMBER
    assert mo.destination_addr == "00051234"
    assert mo.account == "acme"
    assert mo.in_reply_to == mo.key.removesuffix("~reply")
    completed = events(effects, EventKind.MESSAGE_COMPLETED)[0]
    assert mo.at > completed.at
    (sent,) = events(effects, EventKind.REPLY_SENT)
    assert sent.detail["template"] == "paid"


@pytest.mark.parametrize("method", ["udh8", "udh16"])
def test_long_reply_is_concatenated_with_udh(method: str) -> None:
    net = _net("long", concat=method)
    net.submit(msg(NUMBER), EPOCH)
    parts = mos(net.advance(EPOCH + DAY))
    text = parts[0].text
    assert len(text) > 70
    assert len(parts) == 2
    assert all(p.esm_class == 0x40 and p.concat is not None and p.sar is None for p in parts)
    assert parts[0].concat is not None
    assert parts[0].concat.ref_bits == (8 if method == "udh8" else 16)
    assert _reassemble(parts) == text


def test_long_reply_with_sar() -> None:
    net = _net("long", concat="sar")
    net.submit(msg(NUMBER), EPOCH)
    parts = mos(net.advance(EPOCH + DAY))
    assert len(parts) == 2
    assert all(p.sar is not None and p.esm_class == 0 for p in parts)
    assert _reassemble(parts) == parts[0].text


@pytest.mark.parametrize("template", ["stop", "stop_ja"])
def test_stop_opts_out_and_later_messages_are_flagged(template: str) -> None:
    net = _net(template)
    net.submit(msg(NUMBER, b"first"), EPOCH)
    effects = net.advance(EPOCH + DAY)
    (opt_out,) = events(effects, EventKind.OPTED_OUT)
    assert opt_out.detail["text"] in ("STOP", "停止")
    net.submit(msg(NUMBER, b"second"), EPOCH + 2 * DAY)
    after = events(net.advance(EPOCH + 3 * DAY), EventKind.SENT_AFTER_OPT_OUT)
    assert len(after) == 1
    assert after[0].account == "acme"


def test_no_reply_to_alphanumeric_senders() -> None:
    net = network(
        subscribers=[sub(NUMBER, reply_probability=1.0)],
        accounts={"intl": {"route": "international"}},
        two_way={"enabled": True},
    )
    net.submit(msg(NUMBER, account="intl", source="Shop", source_ton=5), EPOCH)
    assert mos(net.advance(EPOCH + DAY)) == []


def test_new_owner_answers_wrong_number() -> None:
    net = network(
        subscribers=[
            sub(
                NUMBER,
                reply_probability=1.0,
                ownership=[
                    {"owner": "a", "active_from": "2015-01-01", "active_to": "2025-01-01"},
                    {"owner": "b", "active_from": "2025-06-01"},
                ],
            )
        ],
        two_way={"enabled": True},
    )
    net.submit(msg(NUMBER, intended_owner="a"), EPOCH)
    (mo,) = mos(net.advance(EPOCH + DAY))
    assert mo.template == "wrong_number"
    assert mo.text == "番号違いです"


def test_reply_rate_and_template_mix() -> None:
    net = network(
        seed=4,
        population={"size": 4000, "reject_all_share": 0.0},
        two_way={"enabled": True},
        absence={"p_absent": 0.0},
    )
    numbers = net.population.numbers()
    for i, number in enumerate(numbers):
        net.submit(msg(number, b"r%d" % i), EPOCH + i * 0.01)
    effects = net.advance(EPOCH + 3 * DAY)
    replies = events(effects, EventKind.REPLY_SENT)
    delivered = len(events(effects, EventKind.MESSAGE_COMPLETED))
    assert len(replies) / delivered == pytest.approx(0.158, abs=0.02)
    stops = sum(r.detail["template"] in ("stop", "stop_ja") for r in replies)
    assert stops / len(replies) == pytest.approx(0.15, abs=0.05)
