"""Bridge from the model's `NetworkEvent`s to `sms.bus.events.Alert` (for the server shell).

The carrier model keeps its own small effect types (`simulator.network.effects`) because
`sms.bus.events` did not exist when the model was written and because its pydantic models cost
microseconds each on the hot path. The audit facts that the bus has a name for become `Alert`s
here; the rest (receipts and MO actually written, submits answered) are published by the server
as `ReceiptSent` / `MoSent` / `SubmitReceived` when it writes the PDUs, since only it knows the
bind and the sequence number.

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
}


def to_alert(event: NetworkEvent) -> Alert | None:
    """The bus alert for a model event, or None when the event is not an alert.

    Args:
        event: A fact returned by `CarrierNetwork.submit` / `advance`.

    Returns:
        An `Alert` carrying the message key, the number and the event's detail as text.
    """
    mapped = ALERT_FOR.get(event.kind)
    if mapped is None:
        return None
    kind, severity = mapped
    detail = ", ".join(f"{k}={v}" for k, v in event.detail.items() if v is not None)
    return Alert(
        at=event.at,
        alert_kind=kind,
        severity=severity,
        message_key=event.key or None,
        destination=event.number or None,
        detail=f"account={event.account}" + (f", {detail}" if detail else ""),
    )
