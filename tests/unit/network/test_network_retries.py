"""Absent handsets: per-carrier retry schedules, EXPIRED at validity (DOMAIN §3, §6.5)."""

from __future__ import annotations

import pytest

from simulator.network import EventKind
from simulator.network.config import OUTCOMES, NetworkConfig
from tests.unit.network.helpers import DAY, EPOCH, HOUR, events, msg, network, receipts, sub

OFF = [{"state": "off", "start_s": 0}]


def _fate_for(carrier: str, **msg_fields: object) -> object:
    net = network(subscribers=[sub("09011112222", carrier=carrier, handset=OFF)])
    fate = net.submit(msg("09011112222", **msg_fields), EPOCH).fate  # type: ignore[arg-type]
    assert fate is not None
    return fate


@pytest.mark.parametrize(
    ("carrier", "expires_after"),
    [("docomo", 72 * HOUR), ("Rakuten", 72 * HOUR), ("SoftBank", 24 * HOUR)],
)
def test_periodic_retries_until_validity(carrier: str, expires_after: float) -> None:
    net = network(subscribers=[sub("09011112222", carrier=carrier, handset=OFF)])
    fate = net.submit(msg("09011112222"), EPOCH).fate
    assert fate is not None
    assert (fate.stat, fate.err) == ("EXPIRED", 27)
    assert fate.final_after_s == expires_after
    first = fate.attempts_after_s[0]
    offsets = NetworkConfig().carriers[carrier].retry.offsets()
    expected = [first] + [first + s for s in offsets if first + s <= expires_after]
    assert list(fate.attempts_after_s) == pytest.approx(expected)
    assert len(fate.attempts_after_s) > 10
    effects = net.advance(EPOCH + 4 * DAY)
    (receipt,) = receipts(effects)
    assert receipt.stat == "EXPIRED"
    assert receipt.at == pytest.approx(EPOCH + expires_after)
    (attempt,) = events(effects, EventKind.ATTEMPT_FAILED)
    assert attempt.detail["retries"] == len(expected)


def test_au_retries_once_after_an_hour_then_expires() -> None:
    net = network(subscribers=[sub("09011112222", carrier="au", handset=OFF)])
    fate = net.submit(msg("09011112222"), EPOCH).fate
    assert fate is not None
    first = fate.attempts_after_s[0]
    assert fate.attempts_after_s == pytest.approx((first, first + HOUR))
    assert fate.stat == "EXPIRED"
    assert fate.final_after_s == pytest.approx(first + HOUR)


def test_esme_validity_shorter_than_carrier_maximum() -> None:
    net = network(subscribers=[sub("09011112222", handset=OFF)])
    fate = net.submit(msg("09011112222", validity_s=2 * HOUR), EPOCH).fate
    assert fate is not None
    assert (fate.stat, fate.final_after_s) == ("EXPIRED", 2 * HOUR)
    assert all(a <= 2 * HOUR for a in fate.attempts_after_s)


def test_handset_returns_and_gets_the_message_at_the_next_retry() -> None:
    net = network(
        subscribers=[sub("09011112222", handset=[{"state": "off", "start_s": 0, "end_s": 7200}])]
    )
    fate = net.submit(msg("09011112222"), EPOCH).fate
    assert fate is not None
    assert fate.stat == "DELIVRD"
    first = fate.attempts_after_s[0]
    offsets = NetworkConfig().carriers["docomo"].retry.offsets()
    expected = next(first + s for s in offsets if first + s >= 7200)
    assert fate.final_after_s == pytest.approx(expected)
    assert all(a < 7200 for a in fate.attempts_after_s)
    effects = net.advance(EPOCH + DAY)
    assert [r.stat for r in receipts(effects)] == ["DELIVRD"]
    assert net.handset("09011112222").threads[0].texts == ("hello",)


def test_storage_full_expires_with_err_40() -> None:
    net = network(subscribers=[sub("09011112222", handset=[{"state": "storage_full"}])])
    fate = net.submit(msg("09011112222"), EPOCH).fate
    assert fate is not None
    assert (fate.stat, fate.err) == ("EXPIRED", 40)


def test_mix_absence_is_delivered_within_each_carriers_window() -> None:
    mix = {k: 0.0 for k in OUTCOMES} | {"delivered": 1.0}
    net = network(
        population={"size": 0},
        subscribers=[
            sub("09011112222", carrier="au", outcome=None),
            sub("09033334444", carrier="SoftBank", outcome=None),
        ],
        routes={"domestic_direct": {"outcomes": mix}},
        absence={"p_absent": 1.0},
    )
    for i in range(300):
        au = net.submit(msg("09011112222", b"a%d" % i), EPOCH + i).fate
        sb = net.submit(msg("09033334444", b"s%d" % i), EPOCH + i).fate
        assert au is not None
        assert sb is not None
        assert au.stat == sb.stat == "DELIVRD"
        # au: the single retry one hour after the first attempt.
        assert au.final_after_s == pytest.approx(au.attempts_after_s[0] + HOUR)
        assert sb.final_after_s <= 24 * HOUR
        assert len(sb.attempts_after_s) >= 1


def test_intermediate_enroute_receipt_on_request() -> None:
    net = network(subscribers=[sub("09011112222", handset=OFF)])
    net.submit(msg("09011112222", registered_delivery=0x11), EPOCH)
    effects = receipts(net.advance(EPOCH + 4 * DAY))
    assert [(r.stat, r.esm_class, r.message_state) for r in effects] == [
        ("ENROUTE", 0x20, 1),
        ("EXPIRED", 0x04, 3),
    ]
