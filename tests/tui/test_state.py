"""The pure state model: events in, the operator's picture out (no Textual involved)."""

from __future__ import annotations

from collections import Counter

import pytest

from sms.alphabet import Encoding
from sms.bus.events import (
    Alert,
    BindStateChanged,
    CampaignProgress,
    Control,
    ControlAcknowledged,
    Event,
    ExpectationStatus,
    FaultCleared,
    FaultInjected,
    HandsetDelivered,
    LatencySummary,
    MessageAccepted,
    MessageFinal,
    MetricsSnapshot,
    MoReceived,
    MoSent,
    PartSubmitted,
    QueueDepths,
    ReceiptReceived,
    ReceiptSent,
    ScenarioProgress,
    SubmitReceived,
    SubmitResponded,
    Throttled,
    WindowUse,
)
from sms.bus.topics import control_topic, event_topic
from tests.tui import sample
from tests.tui.sample import T0
from tui.describe import describe, final_tone, topic_origin
from tui.format import (
    clock_text,
    error_label,
    human_count,
    millis,
    percent,
    sparkline,
    status_name,
)
from tui.state import (
    KEY_ALERT_KINDS,
    MAX_CAMPAIGNS,
    MAX_STEPS,
    MAX_THREAD_ENTRIES,
    MAX_THREADS,
    OpsState,
    RateSeries,
    harness_key,
)

GW = event_topic("gateway", "gw-1", "x").rsplit("/", 1)[0]
SIM = event_topic("simulator", "sim-1", "x").rsplit("/", 1)[0]


def gw(event: Event) -> tuple[str, Event]:
    return (f"{GW}/{event.kind}", event)


def sim(event: Event) -> tuple[str, Event]:
    return (f"{SIM}/{event.kind}", event)


def accepted(mid: str, *, parts: int = 1, dest: str = "09011112222", at: float = T0) -> Event:
    return MessageAccepted(
        at=at, message_id=mid, source="ACME", destination=dest, parts=parts, encoding=Encoding.GSM7
    )


def submitted(mid: str, part: int = 1, parts: int = 1, *, bind: str = "b1") -> Event:
    return PartSubmitted(
        at=T0 + 1, message_id=mid, part=part, parts=parts, sequence_number=part, bind_id=bind
    )


def responded(mid: str, part: int = 1, *, status: int = 0, smsc: str | None = None) -> Event:
    return SubmitResponded(
        at=T0 + 2,
        message_id=mid,
        part=part,
        bind_id="b1",
        sequence_number=part,
        command_status=status,
        smsc_message_id=smsc,
        latency_ms=12.0,
    )


def final(mid: str, state: str = "delivered") -> Event:
    return MessageFinal(at=T0 + 9, message_id=mid, state=state, elapsed_ms=9000.0)  # type: ignore[arg-type]


def fold(*items: tuple[str, Event], state: OpsState | None = None, now: float = T0) -> OpsState:
    state = state or OpsState()
    state.apply_many(items, now)
    return state


def assert_counts_consistent(state: OpsState) -> None:
    live = Counter(record.status for record in state.messages.values())
    assert +state.status_counts == live


# -- rates ----------------------------------------------------------------------------------------


def test_rate_series_buckets_by_whole_second_and_forgets_beyond_its_span() -> None:
    series = RateSeries(span=5)
    series.add(100.2)
    series.add(100.9, 2)
    series.add(102.0)
    assert series.values(102.5) == [0, 0, 3, 0, 1]
    assert series.rate(102.5, seconds=5) == pytest.approx(0.8)
    series.add(110.0)
    assert series.values(110.0) == [0, 0, 0, 0, 1]
    assert series.total == 5
    series.add(109.0)  # a clock that steps back counts into the newest second
    assert series.values(110.0)[-1] == 2


# -- the life of a message ------------------------------------------------------------------------


def test_message_status_follows_its_life_and_counts_stay_consistent() -> None:
    state = fold(gw(accepted("m1", parts=2)))
    record = state.messages["m1"]
    assert record.status == "queued"
    fold(gw(submitted("m1", 1, 2)), gw(submitted("m1", 2, 2)), state=state)
    assert record.status == "in flight"
    fold(gw(responded("m1", 1, smsc="S1")), state=state)
    assert record.status == "in flight"  # one part still unanswered
    fold(gw(responded("m1", 2, status=0x58)), state=state)
    assert record.status == "retrying"
    assert record.last_status == 0x58
    fold(gw(submitted("m1", 2, 2)), gw(responded("m1", 2, smsc="S2")), state=state)
    assert record.status == "awaiting receipt"
    fold(gw(final("m1")), state=state)
    assert (record.status, record.final, record.attempts) == ("delivered", "delivered", 3)
    assert record.smsc_ids == ["S1", "S2"]
    assert [event.kind for _, event in record.steps][:2] == ["message_accepted", "part_submitted"]
    assert state.final_counts == Counter(delivered=1)
    assert state.error_counts() == ([("0x00000058", 1)], "events")
    assert_counts_consistent(state)


def test_scheduled_message_and_events_about_unknown_messages() -> None:
    deferred = MessageAccepted(
        at=T0,
        message_id="m1",
        destination="0901",
        parts=1,
        encoding=Encoding.GSM7,
        scheduled_for=T0 + 3600,
    )
    state = fold(gw(deferred), gw(submitted("ghost")))
    assert state.messages["m1"].status == "scheduled"
    assert state.messages["ghost"].status == "in flight"  # a stub, accepted before we started
    assert state.messages["ghost"].destination == ""
    assert_counts_consistent(state)


def test_only_the_newest_messages_and_steps_are_kept() -> None:
    state = OpsState(max_messages=3)
    for n in range(5):
        state.apply(*gw(accepted(f"m{n}")), now=T0)
    assert list(state.messages) == ["m2", "m3", "m4"]
    assert state.messages_evicted == 2
    assert_counts_consistent(state)
    for _ in range(MAX_STEPS + 10):
        state.apply(*gw(submitted("m4")), now=T0)
    record = state.messages["m4"]
    assert len(record.steps) == MAX_STEPS
    assert record.steps_dropped == 11


def test_simulator_facts_wait_for_the_smsc_id_link_then_join_the_lifecycle() -> None:
    state = fold(
        gw(accepted("m1")),
        gw(submitted("m1")),
        sim(
            SubmitReceived(
                at=T0 + 1,
                bind_id="s1",
                sequence_number=1,
                source="ACME",
                destination="09011112222",
                command_status=0,
                smsc_message_id="S1",
            )
        ),
    )
    handset = state.handsets["09011112222"]
    assert sum(len(t) for t in handset.threads.values()) == 2  # gateway's and simulator's view
    fold(gw(responded("m1", smsc="S1")), state=state)
    kinds = [event.kind for _, event in state.messages["m1"].steps]
    assert kinds == ["message_accepted", "part_submitted", "submit_responded", "submit_received"]
    assert sum(len(t) for t in handset.threads.values()) == 1  # the duplicate is gone
    fold(
        sim(ReceiptSent(at=T0 + 5, smsc_message_id="S1", stat="DELIVRD")),
        gw(ReceiptReceived(at=T0 + 5, message_id="m1", smsc_message_id="S1", stat="DELIVRD")),
        gw(ReceiptReceived(at=T0 + 5, smsc_message_id="S404", stat="DELIVRD")),
        state=state,
    )
    assert state.messages["m1"].receipts == {0: "DELIVRD"}
    assert state.unmatched_receipts == 1
    assert state.receipt_mix() == ([("DELIVRD", 2)], "events")


def test_simulator_only_view_when_no_gateway_publishes() -> None:
    state = fold(
        sim(
            SubmitReceived(
                at=T0,
                bind_id="s1",
                sequence_number=1,
                source="BANK",
                destination="0902",
                command_status=0x14,
            )
        ),
        sim(
            SubmitReceived(
                at=T0,
                bind_id="s1",
                sequence_number=2,
                source="BANK",
                destination="0902",
                command_status=0,
                smsc_message_id="X1",
            )
        ),
        sim(ReceiptSent(at=T0 + 1, smsc_message_id="X1", stat="EXPIRED")),
    )
    assert state.error_counts() == ([("0x00000014", 1)], "simulator events")
    assert state.receipt_mix() == ([("EXPIRED", 1)], "simulator events")
    entry = state.handsets["0902"].threads["BANK"][0]
    assert (entry.direction, entry.status) == ("in", "EXPIRED")
    assert state.binds[("simulator", "sim-1", "s1")].errors == 1


# -- MO and handsets ------------------------------------------------------------------------------


def test_mo_seen_by_both_sides_is_one_line_of_the_thread() -> None:
    state = fold(
        gw(accepted("m1", dest="0901")),
        sim(MoSent(at=T0 + 10, source="0901", destination="ACME", text="STOP")),
        gw(
            MoReceived(
                at=T0 + 10.5, source="0901", destination="ACME", text="STOP", message_id="mo1"
            )
        ),
        gw(MoReceived(at=T0 + 20, source="0901", destination="ACME", text="again")),
    )
    thread = state.handsets["0901"].threads["ACME"]
    assert [(e.direction, e.text, e.status) for e in thread] == [
        ("in", "GSM7 message", "queued"),
        ("out", "STOP", "received"),
        ("out", "again", "received"),
    ]
    assert state.messages["mo1"].direction == "mo"
    assert state.messages["mo1"].entry is thread[1]
    fold(gw(final("m1", "expired")), state=state)
    assert thread[0].status == "expired"  # the handset line follows its message


def test_alerts_count_flag_the_message_and_land_in_the_handset() -> None:
    state = fold(
        gw(accepted("m1", dest="0901")),
        sim(
            Alert(
                at=T0 + 5,
                alert_kind="misdelivery",
                severity="critical",
                message_id="m1",
                destination="0901",
                detail="recycled number",
            )
        ),
        sim(Alert(at=T0 + 6, alert_kind="spoof_delivered_into_thread", destination="0901")),
        gw(Alert(at=T0 + 7, alert_kind="throttling")),
    )
    assert state.alert_counts == Counter(misdelivery=1, spoof_delivered_into_thread=1, throttling=1)
    assert state.unacknowledged_alerts == 3
    handset = state.handsets["0901"]
    assert handset.alerts == 2
    assert handset.threads["ACME"][0].flags == ["misdelivery"]
    assert handset.threads["ACME"][1].text == "misdelivery: recycled number"
    assert handset.threads["(alerts)"][0].text == "spoof delivered into thread"
    assert state.messages["m1"].steps[-1][1].kind == "alert"
    state.acknowledge_alerts()
    assert state.unacknowledged_alerts == 0
    assert [a.alert_kind for a in state.alerts][-1] == "throttling"


# -- handsets from HandsetDelivered ---------------------------------------------------------------


def landed(
    text: str,
    *,
    dest: str = "09011112222",
    sender: str = "ACME",
    key: str | None = None,
    at: float = T0 + 5,
    size: int = 1,
    spoofed: bool = False,
    relabelled: bool = False,
    misdelivered: bool = False,
    in_quiet_hours: bool = False,
) -> Event:
    return HandsetDelivered(
        at=at,
        destination=dest,
        sender=sender,
        text=text,
        message_key=key,
        thread_size=size,
        spoofed=spoofed,
        relabelled=relabelled,
        misdelivered=misdelivered,
        in_quiet_hours=in_quiet_hours,
    )


def keyed(mid: str, key: str, *, dest: str = "09011112222", at: float = T0) -> Event:
    return MessageAccepted(
        at=at,
        message_id=mid,
        message_key=key,
        source="ACME",
        destination=dest,
        parts=1,
        encoding=Encoding.GSM7,
    )


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("row-1", "row-1"),
        ("k:row-1", "row-1"),
        ("k:row-1#3", "row-1"),
        ("k:a#b", "a#b"),
        ("h:abcd", "h:abcd"),
        ("u:acme|ACME|0901|7", "u:acme|ACME|0901|7"),
    ],
)
def test_harness_keys_of_both_sides_compare_equal(key: str, expected: str) -> None:
    assert harness_key(key) == expected


def test_a_delivery_gives_the_waiting_line_its_text_by_message_key() -> None:
    state = fold(
        gw(keyed("m1", "row-1")),
        gw(keyed("m2", "row-2", at=T0 + 1)),
        sim(landed("second", key="k:row-2#1", at=T0 + 6, size=2)),
        sim(landed("first", key="k:row-1#1", at=T0 + 7, size=2)),
    )
    thread = state.handsets["09011112222"].threads["ACME"]
    assert [(e.text, e.message_id, e.delivered) for e in thread] == [
        ("second", "m2", True),
        ("first", "m1", True),
    ]
    assert [e.status for e in thread] == ["queued", "queued"]  # follows the gateway record
    assert state.handset_deliveries == state.handset_deliveries_matched == 2
    assert state.messages["m1"].steps[-1][1].kind == "handset_delivered"
    fold(gw(final("m1")), state=state)
    assert thread[1].status == "delivered"
    assert state.handsets["09011112222"].thread_size("ACME") == 2


def test_a_delivery_without_a_key_takes_the_oldest_waiting_line_of_its_sender() -> None:
    state = fold(
        gw(accepted("m1")),
        gw(accepted("m2", at=T0 + 1)),
        sim(landed("hello", key="h:0badc0de")),  # a derived key names no gateway message
    )
    thread = state.handsets["09011112222"].threads["ACME"]
    assert [(e.message_id, e.text) for e in thread] == [("m2", "GSM7 message"), ("m1", "hello")]
    assert thread[1].delivered
    assert not thread[0].delivered


def test_relabel_moves_the_line_spoof_adds_one_and_flags_show() -> None:
    state = fold(
        gw(keyed("m1", "row-1")),
        gw(keyed("m2", "row-2", dest="09033334444")),
        sim(
            landed(
                "pay",
                key="row-1",
                sender="Likely-SCAM",
                relabelled=True,
                in_quiet_hours=True,
            )
        ),
        sim(landed("pay here", sender="ACME", spoofed=True, at=T0 + 9, size=3)),
        sim(landed("late", key="row-2", dest="09033334444", misdelivered=True)),
    )
    handset = state.handsets["09011112222"]
    assert list(handset.threads) == ["Likely-SCAM", "ACME"]
    (moved,) = handset.threads["Likely-SCAM"]
    assert (moved.message_id, moved.sent_as, moved.text) == ("m1", "ACME", "pay")
    assert moved.flags == ["sender_relabelled", "delivered_in_quiet_hours"]
    (spoof,) = handset.threads["ACME"]
    assert (spoof.message_id, spoof.flags, spoof.status) == (None, ["spoofed"], "delivered")
    assert handset.thread_size("ACME") == 3  # the handset's own count
    assert handset.flagged == 2
    (misdelivered,) = state.handsets["09033334444"].threads["ACME"]
    assert misdelivered.flags == ["misdelivery"]
    assert [t for t, _ in handset.ordered_threads()] == ["ACME", "Likely-SCAM"]
    # an alert about the same message adds no second flag, and an alert with a sender lands
    # in that sender's thread
    fold(
        sim(Alert(at=T0 + 20, alert_kind="misdelivery", message_key="row-2")),
        sim(
            Alert(
                at=T0 + 21,
                alert_kind="sent_after_opt_out",
                destination="09011112222",
                sender="ACME",
                detail="after STOP",
            )
        ),
        state=state,
    )
    assert misdelivered.flags == ["misdelivery"]
    assert handset.threads["ACME"][-1].text == "sent after opt out: after STOP"
    assert state.alerts[-1].sender == "ACME"


def test_a_delivery_to_a_number_written_another_way_moves_to_the_handset() -> None:
    state = fold(gw(keyed("m1", "row-1", dest="+819011112222")), sim(landed("hi", key="row-1")))
    assert "+819011112222" not in state.handsets  # emptied, so let go
    assert state.handsets["09011112222"].threads["ACME"][0].message_id == "m1"


def test_a_delivery_on_the_simulators_line_survives_the_later_link_to_the_gateway() -> None:
    state = fold(
        gw(keyed("m1", "row-1", dest="+819011112222")),
        sim(
            SubmitReceived(
                at=T0 + 1,
                bind_id="s1",
                sequence_number=1,
                source="ACME",
                destination="819011112222",
                command_status=0,
                smsc_message_id="S1",
            )
        ),
        sim(landed("hi", dest="819011112222", key="h:0f")),  # before the gateway heard back
        gw(responded("m1", smsc="S1")),
    )
    (line,) = state.handsets["819011112222"].threads["ACME"]
    assert (line.text, line.delivered, line.message_id) == ("hi", True, "m1")
    assert state.messages["m1"].entry is line
    assert "+819011112222" not in state.handsets  # emptied, so let go
    fold(gw(final("m1")), state=state)
    assert line.status == "delivered"


def test_handset_threads_and_entries_stay_bounded_and_in_time_order() -> None:
    state = OpsState()
    for n in range(MAX_THREADS + 5):
        state.apply(f"{SIM}/handset_delivered", landed(f"t{n}", sender=f"S{n}", at=T0 + n), T0)
    handset = state.handsets["09011112222"]
    assert len(handset.threads) == MAX_THREADS
    assert handset.threads_dropped == 5
    assert "S0" not in handset.threads
    assert f"S{MAX_THREADS + 4}" in handset.threads
    for n in range(MAX_THREAD_ENTRIES + 10):
        at = T0 + 100 + (n * 7919) % 1000  # out of order
        state.apply(f"{SIM}/handset_delivered", landed(f"m{n}", sender="X", at=at), T0)
    thread = handset.threads["X"]
    assert len(thread) == MAX_THREAD_ENTRIES
    times = [e.at for e in thread]
    assert times == sorted(times)


# -- campaigns ------------------------------------------------------------------------------------


def progress(cid: str, at: float, sent: int, **fields: object) -> Event:
    return CampaignProgress(
        at=at,
        campaign_id=cid,
        name=f"campaign {cid}",
        state="sending",
        sent=sent,
        **fields,  # type: ignore[arg-type]
    )


def test_campaigns_keep_the_newest_progress_and_stay_bounded() -> None:
    state = fold(
        gw(progress("c1", T0 + 10, 5, excluded={"invalid": 2, "opted_out": 1})),
        gw(progress("c1", T0 + 30, 9, states={"delivered": 7, "failed": 1, "expired": 1})),
        gw(progress("c1", T0 + 20, 7)),  # late and older: counted, not shown
        gw(progress("c2", T0 + 5, 1)),
    )
    view = state.campaigns["c1"]
    assert (view.progress.sent, view.updates, view.first_at) == (9, 3, T0 + 10)
    assert view.state_count("failed", "expired") == 2
    assert state.campaigns["c2"].source == ("gateway", "gw-1")
    assert [c.progress.campaign_id for c in state.campaign_list()] == ["c1", "c2"]
    assert fold(gw(progress("c1", T0, 1, excluded={"x": 3}))).campaigns["c1"].excluded_total == 3
    for n in range(MAX_CAMPAIGNS + 3):
        fold(gw(progress(f"k{n}", T0 + 100 + n, n)), state=state)
    assert len(state.campaigns) == MAX_CAMPAIGNS
    assert "c1" not in state.campaigns


# -- binds, faults, metrics, scenario, controls ---------------------------------------------------


def test_bind_rates_come_from_metrics_when_a_snapshot_reports_the_bind() -> None:
    state = fold(gw(submitted("m1")), sim(submitted("m2", bind="s1")), now=T0)
    b1 = state.binds[("gateway", "gw-1", "b1")]
    rate, origin = b1.submit_rate(T0)
    assert (rate, origin) == (0.2, "events")  # one submit over the last five seconds
    for seq, rate in enumerate((10.0, 30.0)):
        snap = MetricsSnapshot(
            at=T0 + seq,
            seq=seq,
            interval_s=1.0,
            bind_counts={"b1": {"submitted": int(rate)}},
            bind_rates={"b1": {"submitted": rate}},
        )
        fold(gw(snap), state=state)
    assert b1.submit_rate(T0) == (30.0, "metrics")
    assert b1.submit_history(T0, 4) == [0.0, 0.0, 10.0, 30.0]
    assert b1.metric_submits == 30
    s1 = state.binds[("simulator", "sim-1", "s1")]
    assert s1.submit_rate(T0)[1] == "events"
    assert s1.submit_history(T0, 2) == [0.0, 1.0]


def test_the_key_alerts_are_the_ones_that_hurt_a_person() -> None:
    assert set(KEY_ALERT_KINDS) == {
        "misdelivery",
        "spoof_delivered_into_thread",
        "sent_after_opt_out",
        "delivered_in_quiet_hours",
    }
    state = fold(
        gw(Alert(at=T0, alert_kind="throttling")),
        gw(Alert(at=T0, alert_kind="sent_after_opt_out", sender="ACME")),
        gw(Alert(at=T0, alert_kind="receipt_lost")),
    )
    assert state.other_alerts() == 2


def test_binds_gather_state_window_rate_and_throttles() -> None:
    bound = BindStateChanged(
        at=T0,
        component="gateway",
        instance="gw-1",
        bind_id="b1",
        system_id="acme",
        mode="transceiver",
        state="bound",
        peer="127.0.0.1:2775",
        paused=True,
    )
    snapshot = MetricsSnapshot(
        at=T0, seq=0, interval_s=1.0, windows={"b1": WindowUse(in_flight=3, size=10)}
    )
    state = fold(
        gw(bound),
        gw(submitted("m1")),
        gw(Throttled(at=T0, bind_id="b1")),
        gw(snapshot),
        now=T0 + 0.5,
    )
    bind = state.binds[("gateway", "gw-1", "b1")]
    assert (bind.state, bind.paused, bind.system_id) == ("bound", True, "acme")
    assert (bind.window_in_flight, bind.window_size, bind.throttles) == (3, 10, 1)
    assert bind.rate.values(T0 + 0.5, 2) == [0, 1]
    assert state.throttled == 1
    assert state.instances("gateway") == ["gw-1"]


def test_faults_appear_and_clear() -> None:
    state = fold(
        sim(FaultInjected(at=T0, fault_id="f1", fault_kind="stall", params={"x": 1})),
        sim(FaultInjected(at=T0, fault_id="f2", fault_kind="queue_full", target="acme")),
        sim(FaultCleared(at=T0 + 1, fault_id="f1", fault_kind="stall")),
    )
    assert list(state.faults) == ["f2"]
    assert state.faults["f2"].source == ("simulator", "sim-1")


def test_metrics_snapshots_win_over_events_and_gaps_are_counted() -> None:
    state = fold(gw(accepted("m1")), gw(submitted("m1")), gw(responded("m1", status=8)))
    assert state.queue_depths()[1] == "events"
    assert state.queue_depths()[0].in_flight == 0
    assert state.queue_depths()[0].retrying == 1
    latency = state.latency_rows()
    assert [(r.series, r.origin) for r in latency] == [("submit→resp", "events")]
    assert latency[0].p50_ms == pytest.approx(12.0, rel=0.05)
    summary = LatencySummary(count=4, p50_ms=1.0, p95_ms=2.0, p99_ms=3.0, max_ms=4.0)
    for seq in (0, 3):
        fold(
            gw(
                MetricsSnapshot(
                    at=T0,
                    seq=seq,
                    interval_s=1.0,
                    queues=QueueDepths(queued=7),
                    latency_total={"submit_resp": summary},
                    errors={"0x00000058": 9},
                    receipts={"DELIVRD": 3, "UNDELIV": 1},
                )
            ),
            state=state,
        )
    assert state.snapshot_gaps[("gateway", "gw-1")] == 2
    assert state.queue_depths() == (QueueDepths(queued=7), "metrics")
    assert state.error_counts() == ([("0x00000058", 9)], "metrics")
    assert state.receipt_mix() == ([("DELIVRD", 3), ("UNDELIV", 1)], "metrics")
    assert [(r.series, r.origin, r.p99_ms) for r in state.latency_rows()] == [
        ("submit_resp", "metrics total", 3.0)
    ]


def test_scenario_expectations_turn_and_a_new_run_starts_over() -> None:
    def progress(at: float, run: str, phase: str, status: str) -> Event:
        return ScenarioProgress(
            at=at,
            run_id=run,
            scenario="s",
            phase=phase,  # type: ignore[arg-type]
            elapsed_s=at - T0,
            expectations=(
                ExpectationStatus(name="a", status=status),  # type: ignore[arg-type]
                ExpectationStatus(name="b", status="pending"),
            ),
        )

    runner = "smsh/v1/scenario/r/scenario_progress"
    state = fold((runner, progress(T0, "r1", "starting", "pending")))
    fold((runner, progress(T0 + 5, "r1", "running", "pass")), state=state)
    view = state.scenario
    assert view is not None
    assert view.phases_seen == ["starting", "running"]
    assert view.expectations["a"].status == "pass"
    assert view.expectations["a"].changed_at == T0 + 5
    assert view.expectations["b"].changed_at == T0
    assert view.tally() == Counter({"pass": 1, "pending": 1})
    fold((runner, progress(T0 + 9, "r2", "loading", "pending")), state=state)
    assert state.scenario is not None
    assert state.scenario.run_id == "r2"
    assert state.scenario.phases_seen == ["loading"]


def test_controls_are_recorded_and_bad_topics_are_only_counted() -> None:
    control = Control(at=T0, action="drain", correlation_id="c1", requested_by="tui/ops")
    ack = ControlAcknowledged(
        at=T0,
        correlation_id="c1",
        action="drain",
        component="gateway",
        instance="gw-1",
        ok=False,
        detail="busy",
    )
    state = fold(
        (control_topic("gateway", "gw-1", "drain"), control),
        gw(ack),
        ("not/a/topic", accepted("m9")),
    )
    assert [(c.target, c.ok, c.detail) for c in state.controls] == [
        ("gateway/gw-1", None, "tui/ops"),
        ("gateway/gw-1", False, "busy"),
    ]
    assert state.events_seen == 3
    assert "m9" not in state.messages
    assert ("control", "gateway") not in state.sources


def test_search_matches_every_word_newest_first() -> None:
    state = fold(
        gw(accepted("m1", dest="0901")),
        gw(accepted("m2", dest="0902")),
        gw(accepted("m3", dest="0901")),
        gw(final("m3", "undeliverable")),
    )
    assert [r.message_id for r in state.find_messages()] == ["m3", "m2", "m1"]
    assert [r.message_id for r in state.find_messages("0901")] == ["m3", "m1"]
    assert [r.message_id for r in state.find_messages("0901 UNDELIVERABLE")] == ["m3"]
    assert [r.message_id for r in state.find_messages("", limit=1)] == ["m3"]


def test_the_whole_sample_night_adds_up() -> None:
    state = fold(*sample.sample_events(), now=T0 + 700)
    assert len(state.messages) == sample.MESSAGES + 1  # and one MO
    assert sum(state.final_counts.values()) == sample.MESSAGES - 4
    assert state.status_counts["awaiting receipt"] == 4
    assert state.alerts_total == 4
    assert list(state.faults) == ["f-1"]
    assert [b.label for b in state.bind_list()] == ["gw-1/b1", "gw-1/b2", "sim-1/s1"]
    assert state.handsets[sample.REPLIER].alerts == 1
    assert_counts_consistent(state)
    fold(*sample.handset_night(), *sample.campaign_night(), state=state)
    delivered = sample.MESSAGES - 4 - 3  # minus the four awaiting receipts and 3 undeliverable
    assert state.handset_deliveries == delivered + 1  # and the spoof
    assert state.handset_deliveries_matched == delivered
    replier = state.handsets[sample.REPLIER]
    assert replier.alerts == 2
    assert [e.text for e in replier.threads["ACME"] if e.delivered][-1] == sample.SPOOF_TEXT
    assert [c.progress.campaign_id for c in state.campaign_list()] == [
        "promo-x",
        "dunning-feb",
        "dunning-jan",
    ]


# -- formatting -----------------------------------------------------------------------------------


def test_formatting_helpers() -> None:
    assert sparkline([0, 1, 2, 4, 8]) == " ▂▃▅█"
    assert sparkline([0, 0]) == "  "
    assert sparkline([1, 2, 3], width=2) == "▆█"
    assert [human_count(v) for v in (0, 7.5, 999, 1200, 12_345, 5_600_000, 2e9)] == [
        "0",
        "7.5",
        "999",
        "1.2k",
        "12k",
        "5.6M",
        "2.0G",
    ]
    assert [millis(v) for v in (0.42, 12, 999.4, 1300, 95_000, 720_000, 9e6)] == [
        "0.4ms",
        "12ms",
        "999ms",
        "1.3s",
        "95s",
        "12m",
        "2.5h",
    ]
    assert all(len(millis(v)) <= 5 for v in (9.96, 999.6, 9_960, 599_600, 5_980_000))
    assert percent(1, 3) == "33.3%"
    assert percent(1, 0) == "-"
    assert error_label("0x00000058") == "0x58 ESME_RTHROTTLED"
    assert error_label("0x00000400") == "0x400"
    assert error_label("timeout") == "timeout"
    assert status_name(0x14) == "ESME_RMSGQFUL"
    assert clock_text(T0 + 3661) == "01:01:01"
    assert clock_text(T0, with_date=True) == "2026-01-01 00:00:00"


def test_event_descriptions() -> None:
    assert describe(responded("m1", status=0x58)) == (
        "submit_sm_resp part 1: ESME_RTHROTTLED in 12ms",
        "bad",
    )
    assert describe(final("m1"))[1] == "ok"
    assert describe(final("m1", "expired"))[1] == "bad"
    assert final_tone("retrying") == "warn"
    assert topic_origin("smsh/v1/gateway/gw-1/alert") == "gateway/gw-1"
    assert topic_origin("odd") == "odd"
