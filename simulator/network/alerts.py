"""Bridge from the model's `NetworkEvent`s to `sms.bus.events` (for the server shell).

The carrier model keeps its own small effect types (`simulator.network.effects`) because
`sms.bus.events` did not exist when the model was written and because its pydantic models cost
microseconds each on the hot path. Every model event with a bus counterpart is mapped here:

    misdelivery, spoof_delivered_into_thread, spoof_blocked,      Alert (same alert_kind; see
    delivered_in_quiet_hours, sender_relabelled, sender_replaced,  `ALERT_FOR` for severities)
    filtered, opted_out, sent_after_opt_out, receipt_lost
    message_completed                                             HandsetDelivered (built by
                                                                  `simulator.carrier`, which
                                                                  reads the handset's thread)

The rest has no counterpart of its own: accepted / refused / fault_applied are answered on the
wire and published by the server as `SubmitReceived`; delivered / failed / attempt_failed end up
in the receipts the server publishes as `ReceiptSent`; reply_sent in `MoSent`.

Invariants:
    * Pure mapping: no state, no clock; `at` and keys are copied from the model's event.
    * Only this module imports `sms.bus` (whose package also loads its MQTT transport), and
      nothing else in `simulator.network` imports this module: the model's core stays free of
      asyncio. Import it from the server shell.
"""

from __future__ import annotations

from typing import Final

from simulator.network.effects import EventKind, NetworkEvent
from sms.bus.events import Alert, AlertKind, AlertSeverity

__all__ = ["ALERT_FOR", "to_alert"]

#: Model event kinds that are alerts on the bus, with the alert kind and severity.
ALERT_FOR: Final[dict[EventKind, tuple[AlertKind, AlertSeverity]]] = {
    EventKind.MISDELIVERY: ("misdelivery", "critical"),
    EventKind.SPOOF_DELIVERED_INTO_THREAD: ("spoof_delivered_into_thread", "critical"),
    EventKind.SPOOF_BLOCKED: ("spoof_blocked", "info"),
    EventKind.DELIVERED_IN_QUIET_HOURS: ("delivered_in_quiet_hours", "warning"),
    EventKind.SENDER_RELABELLED: ("sender_relabelled", "warning"),
    EventKind.SENDER_REPLACED: ("sender_replaced", "info"),
    EventKind.FILTERED: ("filtered", "info"),
    EventKind.OPTED_OUT: ("opted_out", "info"),
    EventKind.SENT_AFTER_OPT_OUT: ("sent_after_opt_out", "critical"),
    EventKind.RECEIPT_LOST: ("receipt_lost", "warning"),
}


def to_alert(event: NetworkEvent) -> Alert | None:
    """The bus alert for a model event, or None when the event is not an alert.

    Args:
        event: A fact returned by `CarrierNetwork.submit` / `advance`.

    Returns:
        An `Alert` carrying the message key, the number, the sender as the handset shows it
        (`displayed`, else `sender` of the detail), the message id when the event names one
        (receipt_lost) and the event's detail as text.
    """
    mapped = ALERT_FOR.get(event.kind)
    if mapped is None:
        return None
    kind, severity = mapped
    info = event.detail
    detail = ", ".join(f"{k}={v}" for k, v in info.items() if v is not None)
    sender = info.get("displayed") or info.get("sender")
    message_id = info.get("message_id")
    return Alert(
        at=event.at,
        alert_kind=kind,
        severity=severity,
        message_key=event.key or None,
        message_id=str(message_id) if message_id else None,
        destination=event.number or None,
        sender=str(sender) if sender else None,
        detail=f"account={event.account}" + (f", {detail}" if detail else ""),
    )
