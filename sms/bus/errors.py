"""Errors raised by the event bus.

Invariants:
    * Every exception that `sms.bus` raises on purpose derives from `BusError`.
    * Decoding never raises anything but an `EventDecodeError` subclass, so a subscriber loop
      can skip a bad payload with one `except EventDecodeError` and keep running.
"""

from __future__ import annotations

from sms.errors import SmsError


class BusError(SmsError):
    """Base class of all errors raised by the event bus."""


class EventDecodeError(BusError):
    """A payload could not be turned into an `Event` (not JSON, not an object, invalid fields)."""


class UnknownEventKind(EventDecodeError):
    """The payload's `kind` names no event this version of the code knows.

    Attributes:
        kind: The unknown value (or None when the field is missing or not a string).
    """

    def __init__(self, kind: object) -> None:
        self.kind = kind if isinstance(kind, str) else None
        super().__init__(f"unknown event kind {kind!r}")


class UnsupportedSchemaVersion(EventDecodeError):
    """The payload's `schema_version` is newer (or otherwise other) than the one we understand.

    Attributes:
        version: The version found in the payload.
        supported: The version this code reads.
    """

    def __init__(self, version: object, supported: int) -> None:
        self.version = version
        self.supported = supported
        super().__init__(
            f"unsupported schema_version {version!r} (this reader supports {supported})"
        )


class TopicError(BusError, ValueError):
    """A topic, a topic pattern or one of its path segments is malformed."""


class BusClosed(BusError):
    """The bus (or the subscription) was used after it was closed."""


class SubscriptionNotActive(BusError):
    """A subscription was iterated before `async with` entered it."""


class BusUrlError(BusError, ValueError):
    """A bus URL could not be understood (see `sms.bus.bus_from_url`)."""


class MetricsError(BusError, ValueError):
    """A metric sample is invalid (for example a negative latency)."""


class ControlError(BusError):
    """A control request failed on the requester's side."""


class ControlTimeout(ControlError, TimeoutError):
    """No acknowledgement arrived in time for a control request.

    Attributes:
        correlation_id: The id of the request that was not acknowledged.
    """

    def __init__(self, correlation_id: str, timeout: float) -> None:
        self.correlation_id = correlation_id
        super().__init__(f"no acknowledgement for control {correlation_id!r} within {timeout} s")
