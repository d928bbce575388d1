"""The outstanding-request window of one bind.

SMPP 5.0 §2.9: a window is the number of requests a peer may have sent without a response.
Kannel's `max-pending-submits` defaults to 10. The window is not flow control (the SMSC's
ESME_RTHROTTLED is); it bounds what is in doubt when a link dies.

Pure: no clock reads; `now` is passed in and only recorded, so response timeouts can be found.

Invariants:
    * ``0 <= outstanding <= size`` after every call, whatever the call order.
    * A sequence number is outstanding at most once: acquiring it again before it is
      released raises `WindowError`.
    * Releasing a sequence number that is not outstanding (a late or duplicate response,
      SMPP-ERRORS.md row 22) changes nothing and returns None: the count never goes negative.
"""

from __future__ import annotations

from gateway.errors import GatewayConfigError, WindowError


class Window:
    """Outstanding requests of one bind, keyed by SMPP sequence number.

    Args:
        size: Maximum number of outstanding requests (>= 1).

    Raises:
        GatewayConfigError: `size` is smaller than 1.
    """

    __slots__ = ("_sent", "size")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise GatewayConfigError(f"window size must be >= 1, got {size}", "size")
        self.size = size
        # Insertion order == send order, which `timed_out` and `release_all` rely on.
        self._sent: dict[int, float] = {}

    @property
    def outstanding(self) -> int:
        """Number of requests sent and not yet answered."""
        return len(self._sent)

    @property
    def available(self) -> int:
        """How many more requests may be sent now."""
        return self.size - len(self._sent)

    @property
    def is_full(self) -> bool:
        """True when no request may be sent until a response arrives."""
        return len(self._sent) >= self.size

    def __contains__(self, sequence_number: object) -> bool:
        return sequence_number in self._sent

    def try_acquire(self, sequence_number: int, now: float) -> bool:
        """Reserve a slot for a request about to be sent.

        Args:
            sequence_number: The request's SMPP sequence number.
            now: Send time (seconds), kept for `timed_out`.

        Returns:
            True if the slot was taken, False if the window is full (nothing changes).

        Raises:
            WindowError: The sequence number is already outstanding.
        """
        if sequence_number in self._sent:
            raise WindowError(
                f"sequence number {sequence_number} is already outstanding", sequence_number
            )
        if len(self._sent) >= self.size:
            return False
        self._sent[sequence_number] = now
        return True

    def release(self, sequence_number: int) -> float | None:
        """Free the slot of an answered (or abandoned) request.

        Args:
            sequence_number: The sequence number from the response.

        Returns:
            The time the request was sent, or None if it was not outstanding (a stale or
            duplicate response, which must be logged and dropped, never nacked).
        """
        return self._sent.pop(sequence_number, None)

    def timed_out(self, now: float, timeout: float) -> list[int]:
        """Sequence numbers whose response is overdue (sent at or before ``now - timeout``).

        They stay outstanding: the caller decides (requeue, then `release`).

        Args:
            now: Current time in seconds.
            timeout: The response timer in seconds.

        Returns:
            The overdue sequence numbers, oldest first.
        """
        limit = now - timeout
        return [seq for seq, sent_at in self._sent.items() if sent_at <= limit]

    def oldest_sent_at(self) -> float | None:
        """Send time of the oldest outstanding request (to arm one response timer), or None."""
        for sent_at in self._sent.values():
            return sent_at
        return None

    def release_all(self) -> list[int]:
        """Empty the window (the link is gone).

        Returns:
            The sequence numbers that were outstanding, in send order, so that their
            messages can be requeued.
        """
        seqs = list(self._sent)
        self._sent.clear()
        return seqs
