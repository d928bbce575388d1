"""Split a TCP byte stream into SMPP frames, guarding command_length before buffering a body.

Invariants of this module:

* A frame is exactly ``command_length`` octets, header included, as ``bytes``.
* command_length is checked as soon as its 4 octets are buffered (h2 ``_validate_frame_length``):
  ``16 <= command_length <= max_length`` (which also rules out bit 31). Nothing is ever allocated
  or awaited on the strength of an untrusted length, so the partial frame held here is never
  longer than ``max_length`` octets (SMPP-ERRORS rows 1 and 2).
* After a ``FramingError`` the stream is lost: the framer stays failed and raises the same error
  on every further call. The session answers generic_nack ESME_RINVCMDLEN and closes.
* Chunking is invisible: feeding the same bytes in any split yields the same frames.
* Cost is linear in the bytes fed: whole reads are kept without copying when nothing is pending,
  a short partial frame (at most ``_JOIN_LIMIT`` octets) is joined with the next read into one
  ``bytes`` (one copy, and frames are then sliced from it with one copy each), a longer one
  grows a bytearray, and consumed octets are released in bulk, never one frame at a time.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Final

from simulator.smpp.constants import (
    DEFAULT_MAX_COMMAND_LENGTH,
    MAX_COMMAND_LENGTH_LIMIT,
    PDU_HEADER_LENGTH,
    CommandStatus,
)
from simulator.smpp.errors import FramingError

_LENGTH: Final = struct.Struct(">I")
_SEQUENCE_OFFSET: Final[int] = 12
_COMPACT_THRESHOLD: Final[int] = 64 * 1024
#: A pending tail up to this long is joined with the next read into a new ``bytes``; a longer
#: one (a large PDU arriving in pieces) goes to a bytearray, so a trickle stays linear.
_JOIN_LIMIT: Final[int] = 4096


class Framer:
    """Incremental SMPP frame splitter (sans I/O).

    Feed it whatever the socket delivered, then pull frames until it returns None.
    """

    __slots__ = ("_buf", "_error", "_max_length", "_pos")

    def __init__(self, max_length: int = DEFAULT_MAX_COMMAND_LENGTH) -> None:
        """Create a framer.

        Args:
            max_length: Largest command_length accepted, 16..0x7FFFFFFF.

        Raises:
            ValueError: If max_length is outside 16..0x7FFFFFFF.
        """
        if not PDU_HEADER_LENGTH <= max_length <= MAX_COMMAND_LENGTH_LIMIT:
            raise ValueError(f"max_length must be in 16..0x7FFFFFFF, got {max_length}")
        self._max_length = max_length
        self._buf: bytes | bytearray = b""
        self._pos = 0
        self._error: FramingError | None = None

    @property
    def max_length(self) -> int:
        """Largest command_length this framer accepts."""
        return self._max_length

    @property
    def buffered(self) -> int:
        """Number of octets received but not yet returned as frames."""
        return len(self._buf) - self._pos

    @property
    def failed(self) -> bool:
        """True once a FramingError was raised: the stream cannot be resynchronised."""
        return self._error is not None

    def pending_sequence_number(self) -> int | None:
        """Sequence number of the partial frame, if its 16-octet header has arrived.

        Returns:
            The header's sequence_number, or None if fewer than 16 octets are buffered.
        """
        if len(self._buf) - self._pos < PDU_HEADER_LENGTH:
            return None
        seq: int = _LENGTH.unpack_from(self._buf, self._pos + _SEQUENCE_OFFSET)[0]
        return seq

    def feed(self, data: bytes) -> None:
        """Append received octets.

        Args:
            data: Octets exactly as read from the transport (any split is fine).
        """
        if not data:
            return
        buf = self._buf
        pos = self._pos
        rest = len(buf) - pos
        if rest <= 0:
            # Nothing pending: keep the caller's bytes object as the buffer, no copy.
            self._buf = bytes(data)
            self._pos = 0
            return
        if rest <= _JOIN_LIMIT:
            # The usual case under load: a read ended inside a PDU. One copy into bytes.
            self._buf = b"".join((buf[pos:], data))
            self._pos = 0
            return
        if isinstance(buf, bytes):
            buf = bytearray(memoryview(buf)[self._pos :])
            self._pos = 0
        elif self._pos >= _COMPACT_THRESHOLD:
            del buf[: self._pos]
            self._pos = 0
        buf += data
        self._buf = buf

    def next_frame(self) -> bytes | None:
        """Return the next complete frame, or None if more data is needed.

        Returns:
            One whole PDU (header included), or None.

        Raises:
            FramingError: command_length is below 16 or above ``max_length`` (bit 31 included).
                The framer stays failed afterwards.
        """
        if self._error is not None:
            raise self._error
        buf = self._buf
        pos = self._pos
        available = len(buf) - pos
        if available < 4:
            if available == 0 and pos:
                self._buf = b""
                self._pos = 0
            return None
        length: int = _LENGTH.unpack_from(buf, pos)[0]
        if length < PDU_HEADER_LENGTH or length > self._max_length:
            self._error = FramingError(
                f"command_length {length} outside {PDU_HEADER_LENGTH}..{self._max_length}",
                CommandStatus.ESME_RINVCMDLEN,
                sequence_number=None,
            )
            raise self._error
        if available < length:
            return None
        end = pos + length
        self._pos = end
        if type(buf) is bytes:
            return buf[pos:end]
        return bytes(memoryview(buf)[pos:end])

    def frames(self) -> Iterator[bytes]:
        """Yield every complete frame currently buffered.

        Yields:
            Whole PDUs in arrival order.

        Raises:
            FramingError: As for ``next_frame``.
        """
        while (frame := self.next_frame()) is not None:
            yield frame

    def __iter__(self) -> Iterator[bytes]:
        """Same as ``frames()``."""
        return self.frames()
