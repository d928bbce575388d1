"""Property: the carrier model's hot-path shortcuts change nothing but the cost.

`CarrierNetwork(..., shortcuts=False)` forces the general path everywhere (the fate's full
decision tree, eager handset filing). The same workload, in the same order, must give the same
answers, fates, receipts (texts included), MO replies, audit facts and handsets with the
shortcuts on and off, with events on and off. The workloads mix what the shortcuts must
decline: concatenated parts, absent and switched-off handsets, replyable numeric senders next
to one-way alphanumeric ones, a protected brand (spoof bookkeeping), intended owners
(misdelivery), obtained dates, explicit message keys and user_message_references, every
data_coding the handset decodes plus one it cannot, validity periods,
dangerous-SMS filtering (a URL host, an attacker account).

The adapter's entry (`CarrierNetwork.submit_single`, falling back to `submit` when it declines)
must give the same ids, effects and handsets as `submit` on the general path, also when the
workload switches events on and off and adds and removes carrier outages while plain messages
are in flight (their deliveries are then made by the general path).
"""

from __future__ import annotations

from dataclasses import astuple
from datetime import date
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.network import CarrierNetwork, NetworkConfig, SubmittedMessage
from simulator.network.faults import CarrierOutageFault
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
    (b"pay at http://EVIL.example/x", 0x00),
]


def _config(replies: bool, plain: bool, fixed: bool) -> NetworkConfig:
    receipts: dict[str, Any] = {"loss_rate": 0.05, "intermediate": True}
    if not plain:  # knobs the plain-receipt shortcut must decline
        receipts |= {"duplicate_rate": 0.1, "late_rate": 0.1, "id_in_receipt": "decimal"}
    return NetworkConfig.model_validate(
        {
            "population": {"size": 40},
            "subscribers": [
                {"number": NUMBERS[0], "carrier": "docomo", "dangerous_filter": True},
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
            "accounts": {
                "mallory": {"alphanumeric_policy": "allow", "max_tps": None, "attacker": True}
            },
            "dangerous": {"url_hosts": ["evil.example"]},
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
                        validity_s=draw(st.sampled_from([None, None, None, 30.0, 7200.0])),
                        message_key=draw(st.sampled_from([None, None, None, "k1", "k/2"])),
                        user_message_reference=draw(st.sampled_from([None, None, None, 7])),
                        obtained_date=draw(st.sampled_from([None, None, None, date(2024, 3, 1)])),
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


# Controls between submits: ("events", on), ("outage", carrier, mode, start_s, end_s), ("clear",).
Control = tuple[Any, ...]
CARRIERS = ["docomo", "au", "SoftBank", "Rakuten"]


@st.composite
def mixed_workloads(draw: st.DrawFn) -> list[tuple[float, SubmittedMessage | Control]]:
    """Mostly ordinary single messages (what `submit_single` takes), with controls between."""
    steps: list[tuple[float, SubmittedMessage | Control]] = []
    at = EPOCH
    for i in range(draw(st.integers(1, 24))):
        at += draw(st.sampled_from([0, 1, 1, 2, 3, 5, 60]))
        if draw(st.integers(0, 3)) == 0:
            control: Control = draw(
                st.one_of(
                    st.tuples(st.just("events"), st.booleans()),
                    st.tuples(
                        st.just("outage"),
                        st.sampled_from(CARRIERS),
                        st.sampled_from(["delay", "fail"]),
                        st.sampled_from([0.0, at - EPOCH]),
                        st.sampled_from([None, at - EPOCH + 3.0, at - EPOCH + 600.0]),
                    ),
                    st.just(("clear",)),
                )
            )
            steps.append((at, control))
        source, ton = draw(st.sampled_from(SENDERS))
        body, coding = draw(st.sampled_from(BODIES))
        total = draw(st.sampled_from([1, 1, 1, 1, 2]))
        for seq in range(1, total + 1):
            steps.append(
                (
                    at,
                    SubmittedMessage(
                        draw(st.sampled_from(["acme", "acme", "mallory"])),
                        source,
                        draw(st.sampled_from([NUMBERS[0], NUMBERS[0], NUMBERS[2], *NUMBERS])),
                        body + b"%d" % seq,
                        coding,
                        source_ton=ton,
                        concat=None if total == 1 else Concat(i % 256, total, seq),
                        intended_owner=draw(st.sampled_from([None, None, None, "a"])),
                        registered_delivery=draw(st.sampled_from([0x01, 0x01, 0x11, 0x02, 0x00])),
                        validity_s=draw(st.sampled_from([None, None, None, 30.0, 7200.0])),
                    ),
                )
            )
    return steps


def _run_mixed(
    steps: list[tuple[float, SubmittedMessage | Control]],
    config: tuple[bool, bool, bool],
    single: bool,
) -> dict[str, Any]:
    """Run with `submit_single` first (single) or `submit` on the general path (not single)."""
    net = CarrierNetwork(CONFIGS[config], 5, "shortcuts", events=False, shortcuts=single)
    ids: list[str | None] = []
    effects: list[Any] = []
    taken = 0
    for at, step in steps:
        effects += net.advance(at)
        if isinstance(step, SubmittedMessage):
            m = step
            message_id = None
            if single and m.concat is None and m.intended_owner is None:
                message_id = net.submit_single(
                    m.account, m.source_addr, m.source_ton, m.destination_addr, m.short_message,
                    m.data_coding, m.esm_class, m.registered_delivery, m.validity_s, at,
                    m.source_npi, m.dest_ton, m.dest_npi,
                )  # fmt: skip
                taken += message_id is not None
            if message_id is None:
                message_id = net.submit(m, at).message_id
            ids.append(message_id)
        elif step[0] == "events":
            net.events = step[1]
        elif step[0] == "outage":
            _, carrier, mode, start_s, end_s = step
            net.fault_plan.add(
                CarrierOutageFault(carrier=carrier, mode=mode, start_s=start_s, end_s=end_s)
            )
        else:
            for fault, _, _ in net.fault_plan.carrier_outages():
                net.fault_plan.remove(fault)
    effects += net.advance(EPOCH + 10 * 86_400)
    handsets = {n: net.handset(n) for n in [*NUMBERS, *net.population.numbers()]}
    return {"ids": ids, "effects": effects, "handsets": handsets, "taken": taken}


@settings(max_examples=200, deadline=None)
@given(
    steps=mixed_workloads(),
    config=st.tuples(st.booleans(), st.sampled_from([True, True, False]), st.booleans()),
)
def test_submit_single_is_submit(
    steps: list[tuple[float, SubmittedMessage | Control]], config: tuple[bool, bool, bool]
) -> None:
    single = _run_mixed(steps, config, True)
    general = _run_mixed(steps, config, False)
    assert general["taken"] == 0
    assert {k: v for k, v in single.items() if k != "taken"} == {
        k: v for k, v in general.items() if k != "taken"
    }


def test_submit_single_takes_ordinary_messages() -> None:
    """Most ordinary messages are taken by `submit_single` (so the property above can fail),
    and an outage or events switched on while they are in flight still reach them."""
    steps: list[tuple[float, SubmittedMessage | Control]] = [
        (EPOCH + i, SubmittedMessage("acme", "ACME", NUMBERS[0], b"m%d" % i, source_ton=5))
        for i in range(300)
    ]
    # In flight when each control comes (the fixed configurations deliver after 5 s).
    steps.insert(100, (steps[100][0], ("outage", "docomo", "delay", 100.0, 130.0)))
    steps.insert(151, (steps[151][0], ("clear",)))
    steps.insert(201, (steps[201][0], ("events", True)))
    steps.insert(251, (steps[251][0], ("events", False)))
    for config in CONFIGS:
        single = _run_mixed(steps, config, True)
        # Only a plain receipt configuration (config[1]) can be taken.
        assert single["taken"] > 100 if config[1] else single["taken"] == 0
        general = _run_mixed(steps, config, False)
        assert single["ids"] == general["ids"]
        assert single["effects"] == general["effects"]
        assert single["handsets"] == general["handsets"]
