"""`CarrierNetwork.events` off (no listener): no audit facts, everything else unchanged."""

from __future__ import annotations

from typing import Any

from simulator.carrier import CarrierNetworkHandler
from simulator.network import CarrierNetwork, MoDue, NetworkConfig, NetworkEvent
from simulator.smsc import Smsc
from sms.bus.events import Event
from tests.unit.network.helpers import DAY, EPOCH, msg

#: The model's defaults (replies, quiet hours, recycling, filters) plus every receipt knob, so
#: that each place that writes an event is reached.
CONFIG: dict[str, Any] = {
    "population": {"size": 3_000},
    "receipts": {
        "loss_rate": 0.05,
        "duplicate_rate": 0.05,
        "late_rate": 0.05,
        "malformed_rate": 0.05,
        "fake_delivered_rate": 0.05,
        "before_resp_rate": 0.05,
        "intermediate": True,
    },
    "two_way": {"enabled": True},
}


def _run(events: bool) -> tuple[list[Any], list[Any], list[Any], CarrierNetwork]:
    net = CarrierNetwork(NetworkConfig.model_validate(CONFIG), 7, "events-off", events=events)
    numbers = net.population.numbers()
    outcomes: list[Any] = []
    effects: list[Any] = []
    for i in range(6_000):
        now = EPOCH + i * 2.0
        if i % 50 == 0:
            effects += net.advance(now)
        body = b"see https://example.com/%d" % (i % 7)
        outcomes.append(
            net.submit(msg(numbers[i % len(numbers)], body, registered_delivery=0x11), now)
        )
    effects += net.advance(EPOCH + 10 * DAY)
    facts = [e for e in effects if isinstance(e, NetworkEvent)]
    facts += [e for o in outcomes for e in o.events]
    others = [e for e in effects if not isinstance(e, NetworkEvent)]
    answers = [
        (o.status, o.message_id, o.key, o.fate, o.before_response, o.scheduled) for o in outcomes
    ]
    return answers, others, facts, net


def test_events_off_changes_nothing_but_the_facts() -> None:
    """Same answers, fates, receipts, MO replies and handsets; no `NetworkEvent` at all."""
    answers_on, effects_on, facts_on, net_on = _run(True)
    answers_off, effects_off, facts_off, net_off = _run(False)
    assert answers_off == answers_on
    assert effects_off == effects_on
    assert facts_off == []
    kinds = {f.kind for f in facts_on}
    assert len(kinds) >= 6, kinds  # the run reaches many event sites (so the test can fail)
    assert any(isinstance(e, MoDue) for e in effects_on)  # replies are compared too
    for number in net_on.population.numbers():
        assert net_off.handset(number) == net_on.handset(number)


def test_the_server_switches_events_off_without_a_bus() -> None:
    """`Smsc` tells the handler whether it publishes (`set_publishing`)."""

    def publish(event: Event) -> None:
        pass

    quiet = CarrierNetworkHandler(CarrierNetwork(NetworkConfig(), 1, "quiet"))
    Smsc(handler=quiet)
    assert not quiet.publishing
    assert not quiet.network.events
    loud = CarrierNetworkHandler(CarrierNetwork(NetworkConfig(), 1, "loud"))
    Smsc(handler=loud, publish=publish)
    assert loud.publishing
    assert loud.network.events
