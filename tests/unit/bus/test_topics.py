"""Topic scheme: build, parse, validate segments and filters, MQTT wildcard matching."""

from __future__ import annotations

import pytest

from sms.bus.errors import TopicError
from sms.bus.topics import (
    ALL_INSTANCES,
    TopicParts,
    control_pattern,
    control_topic,
    event_pattern,
    event_topic,
    parse_topic,
    topic_matches,
    validate_pattern,
    validate_segment,
    validate_topic,
)


def test_event_topic() -> None:
    assert event_topic("gateway", "gw-1", "message_accepted") == (
        "smsh/v1/gateway/gw-1/message_accepted"
    )


def test_control_topic_and_broadcast() -> None:
    assert (
        control_topic("gateway", "gw-1", "pause_bind") == "smsh/v1/control/gateway/gw-1/pause_bind"
    )
    assert control_topic("simulator", ALL_INSTANCES, "inject_fault") == (
        "smsh/v1/control/simulator/all/inject_fault"
    )


def test_patterns_use_plus_for_any() -> None:
    assert event_pattern() == "smsh/v1/+/+/+"
    assert event_pattern("gateway", kind="metrics_snapshot") == "smsh/v1/gateway/+/metrics_snapshot"
    assert control_pattern("gateway", "gw-1") == "smsh/v1/control/gateway/gw-1/+"
    assert control_pattern() == "smsh/v1/control/+/+/+"


@pytest.mark.parametrize(
    ("topic", "parts"),
    [
        ("smsh/v1/gateway/gw-1/alert", TopicParts(False, "gateway", "gw-1", "alert")),
        (
            "smsh/v1/control/simulator/all/drain",
            TopicParts(True, "simulator", "all", "drain"),
        ),
        ("smsh/v1/tui/ops.2/control", TopicParts(False, "tui", "ops.2", "control")),
    ],
)
def test_parse_topic(topic: str, parts: TopicParts) -> None:
    assert parse_topic(topic) == parts


def test_parse_inverts_build() -> None:
    topic = event_topic("scenario", "run-7", "scenario_progress")
    parts = parse_topic(topic)
    assert event_topic(parts.component, parts.instance, parts.kind) == topic
    control = control_topic("gateway", "gw-2", "set_rate")
    cparts = parse_topic(control)
    assert cparts.control
    assert control_topic(cparts.component, cparts.instance, cparts.kind) == control


@pytest.mark.parametrize(
    "topic",
    [
        "smsh/v2/gateway/gw-1/alert",
        "other/v1/gateway/gw-1/alert",
        "smsh/v1/gateway/gw-1",
        "smsh/v1/gateway/gw-1/alert/extra",
        "smsh/v1/control/gateway/gw-1",
        "smsh/v1/gateway//alert",
        "smsh/v1/gateway/+/alert",
        "smsh/v1",
        "",
    ],
)
def test_parse_rejects_topics_outside_the_scheme(topic: str) -> None:
    with pytest.raises(TopicError):
        parse_topic(topic)


@pytest.mark.parametrize(
    "segment", ["", "a/b", "a+", "#", "+", "$SYS", "tab\there", "nul\x00", "x" * 129]
)
def test_bad_segments(segment: str) -> None:
    with pytest.raises(TopicError):
        validate_segment(segment, what="instance")


@pytest.mark.parametrize("segment", ["gw-1", "sim.a", "b_2", "ops:1", "東京", "x" * 128])
def test_good_segments(segment: str) -> None:
    assert validate_segment(segment) == segment


def test_reserved_names() -> None:
    with pytest.raises(TopicError, match="reserved"):
        event_topic("control", "x", "alert")
    with pytest.raises(TopicError, match="reserved"):
        event_topic("gateway", ALL_INSTANCES, "alert")
    with pytest.raises(TopicError, match="reserved"):
        control_topic("control", "x", "drain")


def test_builders_validate_each_segment() -> None:
    with pytest.raises(TopicError, match="instance"):
        event_topic("gateway", "gw/1", "alert")
    with pytest.raises(TopicError, match="kind"):
        event_topic("gateway", "gw-1", "a#")
    with pytest.raises(TopicError, match="action"):
        control_topic("gateway", "gw-1", "")
    with pytest.raises(TopicError, match="component"):
        event_pattern("+")


@pytest.mark.parametrize("pattern", ["a/#", "#", "+", "a/+/c", "+/+/#", "a/b", "/"])
def test_valid_filters(pattern: str) -> None:
    assert validate_pattern(pattern) == pattern


@pytest.mark.parametrize("pattern", ["", "a/#/c", "a#", "a/b#", "a+/b", "a/+b", "#/a", "a\x00"])
def test_invalid_filters(pattern: str) -> None:
    with pytest.raises(TopicError):
        validate_pattern(pattern)


@pytest.mark.parametrize("topic", ["", "a/+", "a/#", "a\x00b"])
def test_invalid_publish_topics(topic: str) -> None:
    with pytest.raises(TopicError):
        validate_topic(topic)


# (pattern, topic, matches) following MQTT 3.1.1 §4.7.1 and its examples.
MATCHES: list[tuple[str, str, bool]] = [
    ("sport/tennis/player1/#", "sport/tennis/player1", True),
    ("sport/tennis/player1/#", "sport/tennis/player1/ranking", True),
    ("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", True),
    ("sport/#", "sport", True),
    ("#", "sport/tennis", True),
    ("#", "/", True),
    ("sport/tennis/+", "sport/tennis/player1", True),
    ("sport/tennis/+", "sport/tennis/player1/ranking", False),
    ("sport/tennis/+", "sport/tennis", False),
    ("sport/+", "sport/", True),
    ("sport/+", "sport", False),
    ("+/+", "/finance", True),
    ("/+", "/finance", True),
    ("+", "/finance", False),
    ("+/tennis/#", "sport/tennis", True),
    ("a/b", "a/b", True),
    ("a/b", "a/B", False),
    ("a/b", "a/b/c", False),
    ("a/b/c", "a/b", False),
    ("#", "$SYS/broker", False),
    ("+/monitor/Clients", "$SYS/monitor/Clients", False),
    ("$SYS/#", "$SYS/broker", True),
    ("$SYS/monitor/+", "$SYS/monitor/Clients", True),
    ("smsh/v1/+/+/metrics_snapshot", "smsh/v1/gateway/gw-1/metrics_snapshot", True),
    ("smsh/v1/+/+/metrics_snapshot", "smsh/v1/control/gateway/gw-1/drain", False),
    ("smsh/v1/control/gateway/gw-1/+", "smsh/v1/control/gateway/gw-1/pause_bind", True),
    ("smsh/v1/control/gateway/gw-1/+", "smsh/v1/control/gateway/all/pause_bind", False),
    ("smsh/v1/#", "smsh/v1/control/gateway/all/pause_bind", True),
]


@pytest.mark.parametrize(("pattern", "topic", "expected"), MATCHES)
def test_topic_matches(pattern: str, topic: str, expected: bool) -> None:
    assert topic_matches(pattern, topic) is expected
