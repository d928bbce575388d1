"""One line of words per event, for a message's lifecycle and the handset and alert views.

Pure: a function of the event (and the topic it came on), no Textual. Each description comes with
a tone (`Tone`) that the screens map to a colour.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

from sms.bus.events import (
    Alert,
    Event,
    HandsetDelivered,
    MessageAccepted,
    MessageFinal,
    MoReceived,
    PartSubmitted,
    ReceiptReceived,
    ReceiptSent,
    SubmitReceived,
    SubmitResponded,
    Throttled,
)
from tui.format import millis, status_name

__all__ = ["Tone", "describe", "final_tone", "topic_origin"]

Tone: TypeAlias = Literal["ok", "bad", "warn", "info"]
"""How a line should look: good news, bad news, a warning, or neutral."""

_GOOD_FINALS = frozenset({"delivered"})
_NEUTRAL_FINALS = frozenset({"cancelled", "deleted"})


def final_tone(status: str) -> Tone:
    """The tone of a message status (terminal or not).

    Args:
        status: A `MessageRecord.status`.

    Returns:
        ok for delivered / received, bad for failures, warn for retrying, info otherwise.
    """
    if status in _GOOD_FINALS or status == "received":
        return "ok"
    if status in ("undeliverable", "expired", "rejected", "failed", "unknown"):
        return "bad"
    if status in _NEUTRAL_FINALS:
        return "info"
    if status == "retrying":
        return "warn"
    return "info"


def topic_origin(topic: str) -> str:
    """``component/instance`` of an event topic (``smsh/v1/{component}/{instance}/{kind}``).

    Args:
        topic: The topic.

    Returns:
        The publisher, or the topic itself when it is not of the scheme.
    """
    levels = topic.split("/")
    return "/".join(levels[2:4]) if len(levels) == 5 else topic


def describe(event: Event) -> tuple[str, Tone]:
    """Describe one event in a few words.

    Args:
        event: Any event.

    Returns:
        The words and their tone.
    """
    if isinstance(event, MessageAccepted):
        extra = f", deferred until {event.scheduled_for:.0f}" if event.scheduled_for else ""
        sender = f" from {event.source}" if event.source else ""
        return (
            f"accepted: {event.parts} part(s) {event.encoding}{sender} to {event.destination}"
            f"{extra}",
            "info",
        )
    if isinstance(event, PartSubmitted):
        retry = f" (attempt {event.attempt})" if event.attempt > 1 else ""
        return (
            f"submit_sm part {event.part}/{event.parts} on {event.bind_id} "
            f"seq {event.sequence_number}{retry}",
            "warn" if event.attempt > 1 else "info",
        )
    if isinstance(event, SubmitResponded):
        if event.command_status == 0:
            return (
                f"submit_sm_resp part {event.part}: ok, id {event.smsc_message_id} "
                f"in {millis(event.latency_ms)}",
                "ok",
            )
        return (
            f"submit_sm_resp part {event.part}: {status_name(event.command_status)} "
            f"in {millis(event.latency_ms)}",
            "bad",
        )
    if isinstance(event, Throttled):
        backoff = f", backing off {millis(event.backoff_ms)}" if event.backoff_ms else ""
        return (f"throttled on {event.bind_id}{backoff}", "warn")
    if isinstance(event, SubmitReceived):
        verdict = "accepted" if event.command_status == 0 else status_name(event.command_status)
        part = f" part {event.part}/{event.parts}" if event.part else ""
        return (f"SMSC received{part} on {event.bind_id}: {verdict}", "info")
    if isinstance(event, ReceiptSent):
        return (f"SMSC sent receipt {event.stat} err {event.err}", _stat_tone(event.stat))
    if isinstance(event, ReceiptReceived):
        part = f" part {event.part}" if event.part else ""
        return (f"receipt{part}: {event.stat} err {event.err}", _stat_tone(event.stat))
    if isinstance(event, MessageFinal):
        why = f" ({event.reason})" if event.reason else ""
        took = f" after {millis(event.elapsed_ms)}" if event.elapsed_ms is not None else ""
        return (f"final: {event.state}{why}{took}", final_tone(event.state))
    if isinstance(event, MoReceived):
        return (f"MO from {event.source} to {event.destination}: {event.text!r}", "ok")
    if isinstance(event, Alert):
        tone: Tone = "bad" if event.severity == "critical" else "warn"
        detail = f": {event.detail}" if event.detail else ""
        sender = f" (sender {event.sender})" if event.sender else ""
        return (f"ALERT {event.alert_kind.replace('_', ' ')}{sender}{detail}", tone)
    if isinstance(event, HandsetDelivered):
        flags = [
            name
            for name, on in (
                ("SPOOFED", event.spoofed),
                ("relabelled", event.relabelled),
                ("MISDELIVERED", event.misdelivered),
                ("in quiet hours", event.in_quiet_hours),
            )
            if on
        ]
        marks = f" [{', '.join(flags)}]" if flags else ""
        return (
            f"on handset {event.destination} from {event.sender}: {event.text!r}{marks}",
            "bad" if event.spoofed or event.misdelivered else "warn" if flags else "ok",
        )
    return (event.kind.replace("_", " "), "info")


def _stat_tone(stat: str) -> Tone:
    if stat == "DELIVRD":
        return "ok"
    if stat in ("ENROUTE", "ACCEPTD"):
        return "info"
    return "bad"
