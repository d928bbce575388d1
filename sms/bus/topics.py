"""The topic scheme, and MQTT topic-filter matching for the in-memory bus.

Scheme (ARCHITECTURE.md rule 6):
    events    ``smsh/v1/{component}/{instance}/{kind}``
    controls  ``smsh/v1/control/{component}/{instance}/{action}``

Invariants:
    * A path segment (component, instance, kind, action) is non-empty and contains none of
      ``/ + #``, no NUL or other control character, and does not start with ``$`` (MQTT reserves
      ``$`` topics for the broker). `validate_segment` is the one place that checks it.
    * ``control`` is reserved and cannot be a component name, so the two families never overlap.
    * ``all`` (`ALL_INSTANCES`) is reserved as an instance name: a control published to
      instance ``all`` is for every instance of that component. MQTT does not allow wildcards
      in a published topic, so broadcast needs a real segment; every `ControlChannel` listens on
      its own instance and on ``all``.
    * `topic_matches` follows MQTT 3.1.1 §4.7 / MQTT 5 §4.7: ``+`` matches exactly one level,
      ``#`` (last, alone in its level) matches the parent and any number of levels, and a
      wildcard in the first level does not match a topic that starts with ``$``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sms.bus.errors import TopicError

__all__ = [
    "ALL_INSTANCES",
    "CONTROL",
    "PREFIX",
    "TopicParts",
    "control_pattern",
    "control_topic",
    "event_pattern",
    "event_topic",
    "parse_topic",
    "topic_matches",
    "validate_pattern",
    "validate_segment",
    "validate_topic",
]

#: First two levels of every topic.
PREFIX: Final[str] = "smsh/v1"
#: Third level of control topics (reserved as a component name).
CONTROL: Final[str] = "control"
#: Instance name that addresses every instance of a component on a control topic.
ALL_INSTANCES: Final[str] = "all"
#: Longest accepted path segment, in characters.
MAX_SEGMENT_LENGTH: Final[int] = 128

_FORBIDDEN_CHARS: Final[frozenset[str]] = frozenset("/+#")


@dataclass(frozen=True, slots=True)
class TopicParts:
    """A parsed topic of the scheme."""

    control: bool
    """True for ``smsh/v1/control/...`` topics."""
    component: str
    """The component segment (for a control: the component addressed)."""
    instance: str
    """The instance segment (for a control: the instance addressed, or ``all``)."""
    kind: str
    """The event kind, or for a control the action."""


def validate_segment(segment: str, *, what: str = "segment") -> str:
    """Check one topic path segment.

    Args:
        segment: The value to check.
        what: How to name it in the error (``component``, ``instance``, ...).

    Returns:
        The segment, unchanged.

    Raises:
        TopicError: The segment is empty, too long, or contains a forbidden character.
    """
    if not isinstance(segment, str) or not segment:
        raise TopicError(f"{what} must be a non-empty string, got {segment!r}")
    if len(segment) > MAX_SEGMENT_LENGTH:
        raise TopicError(f"{what} is longer than {MAX_SEGMENT_LENGTH} characters: {segment!r}")
    if segment[0] == "$":
        raise TopicError(f"{what} must not start with '$' (reserved by MQTT): {segment!r}")
    for char in segment:
        if char in _FORBIDDEN_CHARS or char < " " or char == "\x7f":
            raise TopicError(f"{what} must not contain {char!r}: {segment!r}")
    return segment


def _component(component: str) -> str:
    validate_segment(component, what="component")
    if component == CONTROL:
        raise TopicError(f"{CONTROL!r} is reserved and cannot be a component name")
    return component


def event_topic(component: str, instance: str, kind: str) -> str:
    """Build the topic an event is published on.

    Args:
        component: Publishing component (``gateway``, ``simulator``, ``scenario``, ``tui``).
        instance: The publishing instance's id (not ``all``).
        kind: The event's `kind`.

    Returns:
        ``smsh/v1/{component}/{instance}/{kind}``.

    Raises:
        TopicError: A segment is invalid or reserved.
    """
    _component(component)
    validate_segment(instance, what="instance")
    if instance == ALL_INSTANCES:
        raise TopicError(f"{ALL_INSTANCES!r} is reserved and cannot be an instance id")
    validate_segment(kind, what="kind")
    return f"{PREFIX}/{component}/{instance}/{kind}"


def control_topic(component: str, instance: str, action: str) -> str:
    """Build the topic a control message is published on.

    Args:
        component: The component addressed.
        instance: The instance addressed, or `ALL_INSTANCES` for every instance.
        action: The control action.

    Returns:
        ``smsh/v1/control/{component}/{instance}/{action}``.

    Raises:
        TopicError: A segment is invalid or reserved.
    """
    _component(component)
    validate_segment(instance, what="instance")
    validate_segment(action, what="action")
    return f"{PREFIX}/{CONTROL}/{component}/{instance}/{action}"


def _level(value: str | None, what: str) -> str:
    return "+" if value is None else validate_segment(value, what=what)


def event_pattern(
    component: str | None = None, instance: str | None = None, kind: str | None = None
) -> str:
    """Build a subscription pattern for events; None stands for "any" (``+``).

    Args:
        component: Component to match, or None for any.
        instance: Instance to match, or None for any.
        kind: Event kind to match, or None for any.

    Returns:
        A topic filter such as ``smsh/v1/gateway/+/metrics_snapshot``.

    Raises:
        TopicError: A given segment is invalid or reserved.
    """
    if component is not None:
        _component(component)
    return (
        f"{PREFIX}/{_level(component, 'component')}/{_level(instance, 'instance')}"
        f"/{_level(kind, 'kind')}"
    )


def control_pattern(
    component: str | None = None, instance: str | None = None, action: str | None = None
) -> str:
    """Build a subscription pattern for control messages; None stands for "any" (``+``).

    Args:
        component: Component addressed, or None for any.
        instance: Instance addressed (``all`` matches only broadcasts), or None for any.
        action: Action, or None for any.

    Returns:
        A topic filter such as ``smsh/v1/control/gateway/gw-1/+``.

    Raises:
        TopicError: A given segment is invalid or reserved.
    """
    if component is not None:
        _component(component)
    return (
        f"{PREFIX}/{CONTROL}/{_level(component, 'component')}/{_level(instance, 'instance')}"
        f"/{_level(action, 'action')}"
    )


def parse_topic(topic: str) -> TopicParts:
    """Split a topic of the scheme into its parts.

    Args:
        topic: A concrete topic (no wildcards).

    Returns:
        The parts.

    Raises:
        TopicError: The topic is not of the scheme or has an invalid segment.
    """
    levels = topic.split("/")
    if "/".join(levels[:2]) != PREFIX:
        raise TopicError(f"topic does not start with {PREFIX!r}: {topic!r}")
    rest = levels[2:]
    control = bool(rest) and rest[0] == CONTROL
    if control:
        rest = rest[1:]
    if len(rest) != 3:
        raise TopicError(f"topic does not have the form of the scheme: {topic!r}")
    component, instance, kind = rest
    _component(component)
    validate_segment(instance, what="instance")
    validate_segment(kind, what="action" if control else "kind")
    return TopicParts(control=control, component=component, instance=instance, kind=kind)


def validate_topic(topic: str) -> str:
    """Check that a topic can be published to: non-empty, no wildcards, no NUL.

    Args:
        topic: The topic.

    Returns:
        The topic, unchanged.

    Raises:
        TopicError: The topic cannot be published to.
    """
    if not topic:
        raise TopicError("a topic must not be empty")
    if "+" in topic or "#" in topic:
        raise TopicError(f"a published topic must not contain wildcards: {topic!r}")
    if "\x00" in topic:
        raise TopicError(f"a topic must not contain NUL: {topic!r}")
    return topic


def validate_pattern(pattern: str) -> str:
    """Check an MQTT topic filter.

    Args:
        pattern: The filter; ``+`` must fill a whole level and ``#`` must be the whole last level.

    Returns:
        The pattern, unchanged.

    Raises:
        TopicError: The filter is malformed.
    """
    if not pattern:
        raise TopicError("a topic filter must not be empty")
    if "\x00" in pattern:
        raise TopicError(f"a topic filter must not contain NUL: {pattern!r}")
    levels = pattern.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            raise TopicError(f"'#' must be the whole last level of a filter: {pattern!r}")
        if "+" in level and level != "+":
            raise TopicError(f"'+' must be a whole level of a filter: {pattern!r}")
    return pattern


def topic_matches(pattern: str, topic: str) -> bool:
    """Tell whether a concrete topic matches an MQTT topic filter.

    Args:
        pattern: A valid topic filter (see `validate_pattern`).
        topic: A concrete topic.

    Returns:
        True when a broker would deliver a message on `topic` to a subscription on `pattern`.
    """
    return _match_levels(tuple(pattern.split("/")), topic.split("/"))


def _match_levels(filter_levels: tuple[str, ...], topic_levels: list[str]) -> bool:
    """Match pre-split levels (the in-memory bus keeps filters split)."""
    if topic_levels and topic_levels[0].startswith("$") and filter_levels[0] in ("+", "#"):
        return False
    for index, level in enumerate(filter_levels):
        if level == "#":
            return True
        if index >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[index]:
            return False
    return len(filter_levels) == len(topic_levels)
