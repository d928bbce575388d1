"""The scenario library: every file loads, is a real case with expectations, and is quick."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import get_args

import pytest

from scenarios.expectations import RunResults, evaluate
from scenarios.ledger import Ledger
from scenarios.loader import load_scenario
from scenarios.schema import (
    CampaignStream,
    CountExpectation,
    GeneratorStream,
    Scenario,
    WireFault,
)
from scenarios.traffic import generate, timeline
from simulator.network import CarrierNetwork, NetworkEvent, ReceiptDue, SubmittedMessage
from simulator.network.faults import AnyFault

LIBRARY = Path(__file__).resolve().parents[3] / "scenarios" / "library"
FILES = sorted(LIBRARY.glob("*.yaml"))
#: The cases the library must cover (issue 6), by file name.
REQUIRED = {
    "smoke",
    "steady-load",
    "ramp-throttling",
    "carrier-outage",
    "receipts-out-of-order",
    "long-japanese-dunning",
    "spoof-registry-none",
    "spoof-registry-protected",
    "spoof-registry-relabel",
    "recycled-owner-check-off",
    "recycled-owner-check-on",
    "recycled-stale-database",
    "quiet-hours",
    "two-way",
    "fault-zoo",
    "misbehaving-peer",
    "demo",
}
#: Wall-clock budget of one library scenario at its own speed.
MAX_WALL_S = 20.0


def _load(path: Path) -> Scenario:
    return load_scenario(path)


def test_the_library_has_every_required_case() -> None:
    assert len(FILES) >= 12
    assert {p.stem for p in FILES} >= REQUIRED


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_library_file_loads_and_is_a_real_case(path: Path) -> None:
    scenario = _load(path)
    assert scenario.name == path.stem
    assert scenario.description.strip()
    assert scenario.expectations, "a library scenario says what must hold"
    plan = timeline(scenario)
    assert plan.messages > 0
    assert plan.wall_seconds(scenario.speed) < MAX_WALL_S
    keys = [m.key for m in generate(scenario)]
    assert len(keys) == len(set(keys))


def _kinds(union: object) -> set[str]:
    args = get_args(union)
    members = get_args(args[0]) if args and get_args(args[0]) else args
    return {str(m.model_fields["kind"].default) for m in members}


def test_fault_zoo_has_every_fault_kind() -> None:
    zoo = _load(LIBRARY / "fault-zoo.yaml")
    spec = zoo.simulator_spec
    used = {f.kind for f in spec.faults} | {f.kind for f in spec.network.faults}
    assert used == _kinds(AnyFault)
    assert {f.kind for f in spec.wire_faults} == _kinds(WireFault)


def test_demo_tells_the_whole_story() -> None:
    demo = _load(LIBRARY / "demo.yaml")
    kinds = {type(s) for s in demo.traffic}
    assert kinds == {CampaignStream, GeneratorStream}
    assert demo.gateway_spec.owner_check.enabled
    assert demo.simulator_spec.network.registry.mode == "protected"
    assert any(f.kind == "tps_throttle" for f in demo.simulator_spec.faults)
    metrics = {e.metric for e in demo.expectations if isinstance(e, CountExpectation)}
    assert {"misdeliveries", "owner_check_blocked", "spoof_blocked", "throttled"} <= metrics
    texts = [m.text for m in generate(demo) if m.stream in ("dunning", "reminders")]
    assert all(len(t) > 70 for t in texts), "the reminders are long Japanese texts"


def test_long_japanese_texts_sit_on_the_carrier_limits() -> None:
    scenario = _load(LIBRARY / "long-japanese-dunning.yaml")
    lengths = {m.stream: len(m.text) for m in generate(scenario)}
    assert lengths == {"docomo-660": 660, "au-670": 670, "docomo-661": 661}


def test_the_readme_example_is_commented() -> None:
    text = (LIBRARY / "smoke.yaml").read_text(encoding="utf-8")
    comments = [line for line in text.splitlines() if "#" in line]
    assert len(comments) >= 10


# -- a model-level dry run: the carrier model alone, without SMPP and without our gateway ------

#: Counters the carrier model alone decides (no gateway policy changes them in these files).
NETWORK_SIDE = {
    "misdeliveries",
    "spoof_delivered_into_thread",
    "spoof_blocked",
    "sender_relabelled",
    "delivered_in_quiet_hours",
    "messages_rejected",
}
_MODEL_KEY = re.compile(r"^k:(?P<key>.*)#\d+$")


def _dry_run(scenario: Scenario, tmp_path: Path) -> RunResults:
    """Feed the traffic straight into `CarrierNetwork` and record what it says in a ledger."""
    net = CarrierNetwork(scenario.network_config(), scenario.seed, scenario.name)
    binds = [b.system_id for b in scenario.gateway_spec.binds]
    senders = [r.default_sender for r in scenario.gateway_spec.routes if r.default_sender]
    ledger = Ledger(tmp_path / f"{scenario.name}.sqlite", start_at=scenario.start_s)

    def key_of(model_key: str) -> str:
        match = _MODEL_KEY.match(model_key)
        return match.group("key") if match else model_key

    def record(effects: Iterable[object]) -> None:
        for effect in effects:
            if isinstance(effect, NetworkEvent):
                ledger.record_event(str(effect.kind), effect.at, key=key_of(effect.key))
            elif isinstance(effect, ReceiptDue) and effect.esm_class == 0x04:
                key = key_of(effect.key)
                ledger.record_receipt(key, effect.part, effect.at, stat=effect.stat)
                state = {"DELIVRD": "delivered", "REJECTD": "rejected", "EXPIRED": "expired"}
                ledger.record_final(key, effect.at, state.get(effect.stat, "undeliverable"))

    for message in generate(scenario):
        record(net.advance(message.send_at))
        source = message.source or senders[0]
        submitted = SubmittedMessage(
            message.account or binds[0],
            source,
            message.destination,
            message.text.encode("utf-16-be"),
            data_coding=8,
            source_ton=5 if any(c.isalpha() for c in source) else 0,
            message_key=message.key,
            intended_owner=message.owner,
            obtained_date=message.obtained,
            validity_s=message.validity_s,
            text=message.text,
        )
        ledger.record_planned(message)
        ledger.record_accepted(message.key, message.send_at, parts=1)
        outcome = net.submit(submitted, message.send_at)
        record(outcome.events)
    record(net.advance(scenario.start_s + timeline(scenario).run_end_s))
    results = ledger.results()
    ledger.close(results)
    return results


@pytest.mark.parametrize(
    "name",
    [
        "recycled-owner-check-off",
        "spoof-registry-none",
        "spoof-registry-protected",
        "spoof-registry-relabel",
        "quiet-hours-unguarded",
    ],
)
def test_network_side_expectations_hold_in_a_model_dry_run(name: str, tmp_path: Path) -> None:
    scenario = _load(LIBRARY / f"{name}.yaml")
    specs = [e for e in scenario.expectations if getattr(e, "metric", None) in NETWORK_SIDE]
    assert specs
    verdicts = evaluate(specs, _dry_run(scenario, tmp_path))
    assert [v.margin for v in verdicts if not v.passed] == []
