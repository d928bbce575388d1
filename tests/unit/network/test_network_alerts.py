"""alert_notification (SMPP 3.4 §4.12): set_dpf submits that found the handset absent get an
``AlertDue`` effect when the model makes the handset reachable again."""

from __future__ import annotations

import pytest

from simulator.network import AlertDue, Effect
from tests.unit.network.helpers import DAY, EPOCH, HOUR, msg, network, sub

NUMBER = "09011112222"
OFF_2H = [{"state": "off", "start_s": 0, "end_s": 2 * HOUR}]


def _alerts(effects: list[Effect]) -> list[AlertDue]:
    return [e for e in effects if isinstance(e, AlertDue)]


def test_an_absent_handset_with_set_dpf_alerts_when_it_returns() -> None:
    net = network(subscribers=[sub(NUMBER, handset=OFF_2H)])
    outcome = net.submit(
        msg(NUMBER, source="00051234", source_ton=2, dest_ton=1, dest_npi=1, set_dpf=True), EPOCH
    )
    assert outcome.fate is not None
    assert outcome.fate.available_after_s == pytest.approx(2 * HOUR)
    assert _alerts(net.advance(EPOCH + 2 * HOUR - 1)) == []
    (alert,) = _alerts(net.advance(EPOCH + DAY))
    assert alert.at == pytest.approx(EPOCH + 2 * HOUR)
    assert (alert.account, alert.number, alert.key) == ("acme", NUMBER, outcome.key)
    assert (alert.ms_addr, alert.ms_ton, alert.ms_npi) == (NUMBER, 1, 1)
    assert (alert.esme_addr, alert.esme_ton) == ("00051234", 2)
    assert alert.ms_availability_status == 0


def test_no_alert_without_set_dpf_or_without_absence() -> None:
    net = network(subscribers=[sub(NUMBER, handset=OFF_2H), sub("09033334444")])
    net.submit(msg(NUMBER, b"no dpf"), EPOCH)
    net.submit(msg("09033334444", b"present", set_dpf=True), EPOCH)
    assert _alerts(net.advance(EPOCH + DAY)) == []


def test_an_expired_message_still_alerts_when_the_handset_comes_back() -> None:
    # Off for five days: the message expires at docomo's 72 h, the handset returns later.
    net = network(subscribers=[sub(NUMBER, handset=[{"state": "off", "end_s": 5 * DAY}])])
    outcome = net.submit(msg(NUMBER, set_dpf=True), EPOCH)
    assert outcome.fate is not None
    assert outcome.fate.stat == "EXPIRED"
    (alert,) = _alerts(net.advance(EPOCH + 6 * DAY))
    assert alert.at == pytest.approx(EPOCH + 5 * DAY)


def test_back_to_back_absences_make_one_return_and_one_alert_per_return() -> None:
    windows = [
        {"state": "off", "start_s": 0, "end_s": HOUR},
        {"state": "storage_full", "start_s": HOUR, "end_s": 3 * HOUR},
    ]
    net = network(subscribers=[sub(NUMBER, handset=windows)])
    subscriber = net.subscriber(NUMBER)
    assert subscriber is not None
    assert subscriber.available_after(EPOCH + 10) == pytest.approx(EPOCH + 3 * HOUR)
    assert subscriber.available_after(EPOCH + 4 * HOUR) is None
    for body in (b"one", b"two", b"three"):
        net.submit(msg(NUMBER, body, set_dpf=True), EPOCH)
    alerts = _alerts(net.advance(EPOCH + DAY))
    assert [a.at for a in alerts] == pytest.approx([EPOCH + 3 * HOUR])


def test_alerts_are_the_same_whatever_the_submission_order() -> None:
    def run(order: list[int]) -> list[tuple[str, float]]:
        net = network(
            subscribers=[sub(NUMBER, handset=OFF_2H), sub("09033334444"), sub("09055556666")],
            absence={"p_absent": 0.5},
        )
        numbers = [NUMBER, "09033334444", "09055556666"]
        for i in order:
            net.submit(msg(numbers[i % 3], b"m%d" % i, set_dpf=True), EPOCH + i)
        return sorted((a.number, round(a.at, 6)) for a in _alerts(net.advance(EPOCH + 9 * DAY)))

    forward = run(list(range(30)))
    assert forward == run(list(range(29, -1, -1)))
    assert len(forward) > 1  # the 2 h window, plus random absences that returned
