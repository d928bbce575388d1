"""Run ledger: batched SQLite writes, replay, per-message comparison, run directories."""

from __future__ import annotations

import dataclasses
import json
import random
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest

from scenarios.errors import LedgerError
from scenarios.ledger import (
    Difference,
    Ledger,
    LedgerReader,
    build_version,
    compare_ledgers,
    create_run_directory,
    open_ledger,
    traffic_key,
)
from scenarios.loader import load_scenario
from scenarios.schema import Scenario
from scenarios.traffic import TrafficMessage, generate
from sms.alphabet import Encoding
from sms.bus.events import (
    Alert,
    BindState,
    BindStateChanged,
    FaultInjected,
    MessageAccepted,
    MessageFinal,
    MoReceived,
    MoSent,
    PartSubmitted,
    ReceiptReceived,
    SubmitResponded,
    SubmitTimedOut,
)

LIBRARY = Path(__file__).resolve().parents[3] / "scenarios" / "library"
T0 = 1_767_225_600.0


def _scenario(count: int = 12) -> Scenario:
    return Scenario.model_validate(
        {
            "schema_version": 1,
            "name": "ledger",
            "seed": 3,
            "traffic": [
                {
                    "kind": "generator",
                    "name": "m",
                    "messages": count,
                    "phases": [{"kind": "steady", "rate": 10}],
                    "text": {"gsm7": 1, "long_japanese": 1, "long_min": 100, "long_max": 130},
                    "destinations": {"kind": "range", "first": "09000000000",
                                     "last": "09000009999"},
                }
            ],
        }
    )  # fmt: skip


def _record_run(
    ledger: Ledger,
    messages: list[TrafficMessage],
    *,
    order_seed: int,
    changed: dict[str, str] | None = None,
) -> None:
    """Record a plausible lifecycle of every message, interleaved in a seeded order.

    Order, SMSC ids, attempts and timing depend on `order_seed`; the outcome depends only on
    the key (and on `changed`, key -> final state, to simulate a different fate).
    """
    rng = random.Random(order_seed)
    changed = changed or {}
    lifecycles: list[list[Callable[[], None]]] = []
    for n, m in enumerate(messages):
        parts = 1 if m.text_kind == "gsm7" else 2
        at = m.send_at + rng.random()
        smsc = f"{rng.getrandbits(32):08x}"
        steps: list[Callable[[], None]] = [partial(ledger.record_accepted, m.key, at, parts=parts)]
        state = changed.get(m.key, "delivered")
        stat = "DELIVRD" if state == "delivered" else "EXPIRED"
        for part in range(1, parts + 1):
            attempts = 1 + rng.randrange(2)
            for attempt in range(1, attempts + 1):
                status = 0x58 if attempt < attempts else 0
                steps.append(
                    partial(ledger.record_submit, m.key, part, at + attempt, attempt=attempt)
                )
                steps.append(
                    partial(
                        ledger.record_resp,
                        m.key,
                        part,
                        at + 2,
                        status=status,
                        smsc_id=f"{smsc}{part}",
                    )
                )
            steps.append(partial(ledger.record_receipt, m.key, part, at + 5, stat=stat))
        steps.append(partial(ledger.record_final, m.key, at + 6, state))
        if n % 5 == 0:
            steps.append(partial(ledger.record_event, "misdelivery", at + 6, key=m.key))
        lifecycles.append(steps)
    for m in messages:
        ledger.record_planned(m)
    # Interleave the lifecycles at random, keeping each message's own steps in order.
    cursors = [0] * len(lifecycles)
    live = list(range(len(lifecycles)))
    while live:
        i = rng.choice(live)
        lifecycles[i][cursors[i]]()
        cursors[i] += 1
        if cursors[i] == len(lifecycles[i]):
            live.remove(i)


def _write(path: Path, messages: list[TrafficMessage], **kwargs: object) -> Ledger:
    ledger = Ledger(path, scenario="ledger", seed=3, batch_size=7)
    _record_run(ledger, messages, **kwargs)  # type: ignore[arg-type]
    return ledger


def test_write_read_round_trip(tmp_path: Path) -> None:
    messages = list(generate(_scenario()))
    ledger = _write(tmp_path / "a.sqlite", messages, order_seed=1)
    live = ledger.results(end_at=T0 + 60)
    ledger.close(live)
    with LedgerReader(tmp_path / "a.sqlite") as reader:
        assert reader.outcomes() == live.outcomes
        replayed = reader.results()
        meta = reader.meta()
        assert len(list(reader.facts())) > len(messages) * 5
    assert replayed.counters == live.counters
    assert replayed.latencies == live.latencies
    assert meta["seed"] == 3
    assert meta["closed"] is True
    assert meta["results"]["counters"]["messages_delivered"] == len(messages)
    assert live.counter("messages_planned") == live.counter("messages_accepted") == len(messages)
    assert live.counter("messages_not_terminal") == 0
    assert live.counter("throttled") == live.counter("submit_errors") > 0
    assert live.counter("misdeliveries") == 3
    assert live.receipt_mix == {"DELIVRD": live.counter("parts_submitted")}


def test_reader_of_a_ledger_still_being_written(tmp_path: Path) -> None:
    messages = list(generate(_scenario(5)))
    ledger = _write(tmp_path / "a.sqlite", messages, order_seed=1)
    ledger.flush()
    with LedgerReader(tmp_path / "a.sqlite") as reader:
        assert reader.outcomes() == ledger.builder.outcomes()
    ledger.close()


def test_only_order_differs_no_difference(tmp_path: Path) -> None:
    messages = list(generate(_scenario()))
    for name, seed in (("a", 1), ("b", 2)):
        _write(tmp_path / f"{name}.sqlite", messages, order_seed=seed).close()
    with LedgerReader(tmp_path / "a.sqlite") as a, LedgerReader(tmp_path / "b.sqlite") as b:
        facts_a = [(f.kind, f.key, f.part) for f in a.facts()]
        facts_b = [(f.kind, f.key, f.part) for f in b.facts()]
        assert facts_a != facts_b, "the two runs really differ in order"
        assert [o.attempts for o in a.outcomes().values()] != [
            o.attempts for o in b.outcomes().values()
        ]
    assert compare_ledgers(tmp_path / "a.sqlite", tmp_path / "b.sqlite") == []


def test_changed_outcomes_are_reported_by_key(tmp_path: Path) -> None:
    messages = list(generate(_scenario()))
    victim = messages[3]
    _write(tmp_path / "a.sqlite", messages, order_seed=1).close()
    _write(
        tmp_path / "b.sqlite", messages[:-1], order_seed=9, changed={victim.key: "expired"}
    ).close()
    diffs = compare_ledgers(tmp_path / "a.sqlite", tmp_path / "b.sqlite")
    parts = 1 if victim.text_kind == "gsm7" else 2
    expected = [Difference(victim.key, "state", "delivered", "expired")]
    expected += [
        Difference(victim.key, f"part[{p}].stat", "DELIVRD", "EXPIRED") for p in range(1, parts + 1)
    ]
    expected.append(Difference(messages[-1].key, "presence", "present", None))
    assert sorted(diffs, key=lambda d: (d.key, d.field)) == sorted(
        expected, key=lambda d: (d.key, d.field)
    )
    assert str(expected[0]) == f"{victim.key}: state: delivered -> expired"


def test_compare_accepts_run_directories_and_mappings(tmp_path: Path) -> None:
    messages = list(generate(_scenario(3)))
    (tmp_path / "run").mkdir()
    ledger = _write(tmp_path / "run" / "ledger.sqlite", messages, order_seed=1)
    outcomes = ledger.builder.outcomes()
    ledger.close()
    assert compare_ledgers(tmp_path / "run", outcomes) == []
    changed = dict(outcomes)
    key = next(iter(changed))
    changed[key] = dataclasses.replace(changed[key], events=("spoof",))
    assert [d.field for d in compare_ledgers(outcomes, changed)] == ["events"]


def test_bus_events_feed_the_ledger(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "bus.sqlite", scenario="bus", start_at=T0)
    t = T0
    ledger.observe(
        MessageAccepted(at=t, message_id="17", message_key="m-000001", destination="0901",
                        parts=2, encoding=Encoding.UCS2)
    )  # fmt: skip
    for part in (1, 2):
        ledger.observe(PartSubmitted(at=t + 1, message_id="17", part=part, parts=2,
                                     sequence_number=part, bind_id="b1"))  # fmt: skip
    ledger.observe(
        SubmitResponded(at=t + 1.5, message_id="17", part=1, bind_id="b1", sequence_number=1,
                        command_status=0x58, latency_ms=5)
    )  # fmt: skip
    ledger.observe(PartSubmitted(at=t + 2, message_id="17", part=1, parts=2, sequence_number=3,
                                 bind_id="b1", attempt=2))  # fmt: skip
    for part, seq in ((1, 3), (2, 2)):
        ledger.observe(SubmitResponded(at=t + 2.5, message_id="17", part=part, bind_id="b1",
                                       sequence_number=seq, command_status=0, latency_ms=20,
                                       smsc_message_id=f"a{part}"))  # fmt: skip
    for part in (1, 2, 2):
        ledger.observe(ReceiptReceived(at=t + 5, message_id="17", smsc_message_id=f"a{part}",
                                       stat="DELIVRD", part=part))  # fmt: skip
    ledger.observe(ReceiptReceived(at=t + 5, smsc_message_id="zz", stat="UNDELIV"))
    ledger.observe(MessageFinal(at=t + 5, message_id="17", state="delivered", attempts=3))
    ledger.observe(MoSent(at=t + 30, source="09011112222", destination="00051234",
                          text="払いました、来週また", parts=2))  # fmt: skip
    ledger.observe(MoReceived(at=t + 31, source="+819011112222", destination="00051234",
                              text="払いました、来週また", parts=2, reassembled=True))  # fmt: skip
    ledger.observe(Alert(at=t + 6, alert_kind="misdelivery", message_key="m-000001"))
    ledger.observe(Alert(at=t + 6, alert_kind="misdelivery", message_key="m-000001"))
    transitions: list[tuple[BindState, str | None]] = [
        ("bound", None),
        ("closed", "link lost"),
        ("bound", None),
    ]
    for state, reason in transitions:
        ledger.observe(
            BindStateChanged(at=t + 40, component="gateway", instance="gw-1", bind_id="b1",
                             system_id="s", mode="transceiver", state=state,
                             peer="127.0.0.1:1", reason=reason)
        )  # fmt: skip
    ledger.observe(FaultInjected(at=t + 40, fault_id="f1", fault_kind="stall"))
    results = ledger.results()
    ledger.close(results)
    c = results.counters
    assert (c["messages_accepted"], c["parts_submitted"], c["submit_attempts"]) == (1, 2, 3)
    assert (c["throttled"], c["submit_ok"], c["messages_delivered"]) == (1, 2, 1)
    assert (c["receipts_matched"], c["receipts_duplicate"], c["receipts_unmatched"]) == (3, 1, 1)
    assert (c["mo_sent"], c["mo_received"], c["mo_reassembled"], c["mo_mismatched"]) == (
        1, 1, 1, 0,
    )  # fmt: skip
    assert (c["misdeliveries"], c["binds_lost"], c["binds_reconnected"]) == (1, 1, 1)
    assert c["faults_injected"] == 1
    assert results.errors == {"0x00000058": 1}
    assert results.receipt_mix == {"DELIVRD": 2, "UNDELIV": 1}
    outcome = results.outcomes["m-000001"]
    assert outcome.part_stats == ("DELIVRD", "DELIVRD")
    assert outcome.events == ("misdelivery",)
    assert results.latencies["submit_to_resp_ms"].count == 3
    assert results.latencies["submit_to_receipt_ms"].p50 == 4000.0


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("k:spoof-000001#0", "spoof-000001"),
        ("k:reminders-000119#2~reply", "reminders-000119"),
        ("main-000001", "main-000001"),
        ("u:acct|123|0901|7", "u:acct|123|0901|7"),
        ("k:", "k:"),
    ],
)
def test_traffic_key_reads_the_carrier_models_keys(raw: str, key: str) -> None:
    assert traffic_key(raw) == key


def test_a_generic_nack_on_the_bus_is_counted(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "nack.sqlite", scenario="nack", start_at=T0)
    ledger.observe(
        MessageAccepted(at=T0, message_id="5", message_key="m-1", destination="0901", parts=1,
                        encoding=Encoding.GSM7)
    )  # fmt: skip
    ledger.observe(PartSubmitted(at=T0, message_id="5", part=1, parts=1, sequence_number=1,
                                 bind_id="b1"))  # fmt: skip
    for status, nack in ((0x08, True), (0x58, False)):
        ledger.observe(
            SubmitResponded(at=T0 + 1, message_id="5", part=1, bind_id="b1", sequence_number=1,
                            command_status=status, latency_ms=3, generic_nack=nack)
        )  # fmt: skip
    results = ledger.results()
    ledger.close(results)

    assert results.counters["generic_nacks"] == 1
    assert results.counters["submit_errors"] == 2


def test_a_response_timeout_on_the_bus_is_counted_and_keyed(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "timeout.sqlite", scenario="timeout", start_at=T0)
    ledger.observe(
        MessageAccepted(at=T0, message_id="5", message_key="m-1", destination="0901", parts=1,
                        encoding=Encoding.GSM7)
    )  # fmt: skip
    ledger.observe(PartSubmitted(at=T0, message_id="5", part=1, parts=1, sequence_number=1,
                                 bind_id="b1"))  # fmt: skip
    ledger.observe(SubmitTimedOut(at=T0 + 30, message_id="5", part=1, bind_id="b1",
                                  sequence_number=1, waited_ms=30_000))  # fmt: skip
    ledger.observe(MessageFinal(at=T0 + 40, message_id="5", state="rejected", attempts=2))
    results = ledger.results()
    ledger.close(results)

    assert results.counters["submit_timeouts"] == 1
    assert results.counters["messages_rejected"] == 1
    facts = sqlite3.connect(tmp_path / "timeout.sqlite").execute(
        "SELECT key, part, name FROM facts WHERE kind = 'timeout'"
    )
    assert facts.fetchall() == [("m-1", 1, "b1")]


def test_audit_alerts_land_on_the_traffic_key(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "alerts.sqlite", scenario="alerts", start_at=T0)
    ledger.observe(Alert(at=T0 + 1, alert_kind="spoof_blocked", message_key="k:spoof-000001#0"))
    ledger.observe(Alert(at=T0 + 2, alert_kind="spoof_blocked", message_key="k:spoof-000001#1"))
    ledger.observe(Alert(at=T0 + 3, alert_kind="opted_out", message_key="k:spoof-000001#0~reply"))
    results = ledger.results()
    ledger.close(results)

    assert sorted(results.outcomes) == ["spoof-000001"]
    assert results.outcomes["spoof-000001"].events == ("opted_out", "spoof_blocked")
    assert results.counters["spoof_blocked"] == 1  # one message, however often it was retried
    assert results.counters["opted_out"] == 1


def test_ledger_errors(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    ledger = Ledger(path)
    with pytest.raises(LedgerError, match="exists there already"):
        Ledger(path)
    ledger.close()
    with pytest.raises(LedgerError, match="closed"):
        ledger.record_event("x", T0)
    with pytest.raises(LedgerError, match="no such ledger"):
        LedgerReader(tmp_path / "nope.sqlite")
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(LedgerError, match="not a run ledger"):
        LedgerReader(other)


def test_run_directory(tmp_path: Path) -> None:
    scenario = load_scenario(LIBRARY / "smoke.yaml")
    now = datetime(2026, 11, 24, 12, 30, 5, tzinfo=UTC)
    run = create_run_directory(scenario, tmp_path / "runs", now=now)
    again = create_run_directory(scenario, tmp_path / "runs", now=now)
    assert run.run_id == "smoke-20261124T123005Z"
    assert again.run_id == "smoke-20261124T123005Z-2"
    assert run.scenario_file.read_text(encoding="utf-8") == scenario.source_text
    meta = json.loads((run.path / "run.json").read_text(encoding="utf-8"))
    assert meta["seed"] == 1
    assert meta["scenario"] == "smoke"
    assert meta["build_version"] == build_version() != ""
    with open_ledger(run) as ledger:
        ledger.record_event("fault_injected", scenario.start_s)
    with LedgerReader(run.path) as reader:
        assert reader.scenario_text() == scenario.source_text
        assert reader.meta()["run_id"] == run.run_id


def test_many_messages_quickly(tmp_path: Path) -> None:
    messages = list(generate(_scenario(20_000)))
    started = time.perf_counter()
    with Ledger(tmp_path / "big.sqlite") as ledger:
        for i, m in enumerate(messages):
            ledger.record_planned(m)
            ledger.record_accepted(m.key, m.send_at, parts=1)
            ledger.record_submit(m.key, 1, m.send_at)
            ledger.record_resp(m.key, 1, m.send_at + 0.01, status=0, smsc_id=f"{i:x}")
            ledger.record_receipt(m.key, 1, m.send_at + 2, stat="DELIVRD")
            ledger.record_final(m.key, m.send_at + 2, "delivered")
    elapsed = time.perf_counter() - started
    assert elapsed < 10.0, f"20k messages took {elapsed:.1f} s"
    with LedgerReader(tmp_path / "big.sqlite") as reader:
        assert len(reader.outcomes()) == 20_000
