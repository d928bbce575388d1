"""Handset inboxes: threads keyed by the exact displayed sender, and what a number sees.

The network feeds delivered parts through one `sms.segments.Reassembler` (keyed by displayed
sender, number, reference and total, exactly as a handset keys them), and files each whole
message here. A thread is everything one displayed sender string has sent to one number: this is
why a spoof with the exact sender "NTT DOCOMO" lands among docomo's genuine messages
(DOMAIN §4, §6.4), while "NTT D0COMO" opens a thread of its own.

Invariants:
    * Thread key = the displayed sender, byte for byte (no case folding, no trimming).
    * Messages in a thread are in completion order (the order `file` was called), which is
      time order because the network delivers from a time-ordered schedule. Only the newest
      `keep` messages per thread are kept (memory stays bounded under load); whether a thread
      ever held genuine messages of a brand is remembered regardless.
    * Views (`HandsetView`, `ThreadView`) are immutable snapshots; `InboxMessage` is a slots
      dataclass built once per message and never mutated (not frozen, for construction speed).
    * A single message filed with `file_deferred` (no brand: nothing to book for spoofs) is
      held as one flat tuple of its raw fields (body octets undecoded) and built into an
      `InboxMessage` the first time a view needs it, then kept built: a view shows exactly what
      eager filing would have shown. The network defers when nothing reads the message at
      filing time (no bus, no reply), so the decode and the `InboxMessage` are paid only for
      messages someone looks at (and only for the newest `keep` of a thread). The tuple holds
      only atoms (the flags joined into one string), so the network's per-message objects die
      young and the cyclic GC stops tracking the tuple: a long run keeps many.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Final, TypeAlias

from sms.alphabet import decode, encoding_for_data_coding
from sms.errors import SmsError

__all__ = ["DeferredThread", "HandsetView", "Inbox", "InboxMessage", "ThreadView", "flag_text"]


@dataclass(slots=True)
class InboxMessage:
    """One message as the handset shows it."""

    at: float
    """When it became visible (its last part's delivery, or the reassembly timeout)."""
    sender: str
    """The displayed sender (the thread key)."""
    text: str
    """The text shown (parts joined; only the parts that arrived when incomplete)."""
    keys: tuple[str, ...]
    """Message keys of the parts that formed it (usually all the same key)."""
    account: str
    """system_id that sent it."""
    flags: frozenset[str] = frozenset()
    """genuine, spoof, relabelled, replaced, misdelivery, incomplete, quiet_hours."""
    parts: int = 1
    """Parts announced."""
    missing: tuple[int, ...] = ()
    """Seqs that never arrived (incomplete messages)."""


@dataclass(frozen=True, slots=True)
class ThreadView:
    """One conversation on the handset."""

    sender: str
    """The displayed sender."""
    messages: tuple[InboxMessage, ...]
    """Its messages, oldest first."""

    @property
    def has_genuine(self) -> bool:
        """The thread holds at least one genuine message of the sender's owner."""
        return any("genuine" in m.flags for m in self.messages)

    @property
    def has_spoof(self) -> bool:
        """The thread holds at least one spoofed message."""
        return any("spoof" in m.flags for m in self.messages)

    @property
    def texts(self) -> tuple[str, ...]:
        """Just the texts, oldest first."""
        return tuple(m.text for m in self.messages)


@dataclass(frozen=True, slots=True)
class HandsetView:
    """Everything one number's handset shows."""

    number: str
    """National form."""
    threads: tuple[ThreadView, ...]
    """Threads in order of their first message."""

    def thread(self, sender: str) -> ThreadView | None:
        """The thread of an exact displayed sender, or None.

        Args:
            sender: Displayed sender.

        Returns:
            The thread.
        """
        for t in self.threads:
            if t.sender == sender:
                return t
        return None


_Raw: TypeAlias = tuple[float, str, str, str, str, bytes, int]
"""A deferred single message: at, sender, key, account, flags (`flag_text`), body octets,
data_coding. Only atoms, so the cyclic GC stops tracking it (a handset keeps many)."""

DeferredThread: TypeAlias = "deque[InboxMessage | _Raw]"
"""A thread's messages as `Inbox.deferred_thread` hands them out: append deferred messages
``(at, sender, key, account, flag_text(flags), body, data_coding)`` only."""

_FLAG_SEP: Final = "\x1f"  # flag names are non-empty words without control characters
#: frozenset of flags -> its joined form (the network uses a handful of sets); bounded.
_FLAG_TEXT: dict[frozenset[str], str] = {}
_FLAG_TEXT_LIMIT: Final = 1024


def flag_text(flags: frozenset[str]) -> str:
    """A message's flags joined as a deferred message holds them (memoised).

    Args:
        flags: The flags.

    Returns:
        The flag names, sorted, joined by a separator no flag name contains.
    """
    return _flag_text(flags)


def _flag_text(flags: frozenset[str]) -> str:
    text = _FLAG_TEXT.get(flags)
    if text is None:
        text = _FLAG_SEP.join(sorted(flags))
        if len(_FLAG_TEXT) < _FLAG_TEXT_LIMIT:
            _FLAG_TEXT[flags] = text
    return text


def _build(raw: _Raw) -> InboxMessage:
    at, sender, key, account, flag_text, body, data_coding = raw
    try:
        text = decode(body, encoding_for_data_coding(data_coding), strict=False)
    except SmsError:
        text = ""
    flags = frozenset(flag_text.split(_FLAG_SEP)) if flag_text else frozenset()
    return InboxMessage(at, sender, text, (key,), account, flags, 1, ())


class _Thread:
    __slots__ = ("genuine_brands", "messages", "unreported_spoofs")

    def __init__(self, keep: int | None) -> None:
        self.messages: deque[InboxMessage | _Raw] = deque(maxlen=keep)
        self.genuine_brands: set[str] = set()
        self.unreported_spoofs: list[tuple[InboxMessage, str]] = []


class Inbox:
    """One handset's threads (mutable; the network owns it)."""

    __slots__ = ("_keep", "_threads", "number")

    def __init__(self, number: str, keep: int | None = None) -> None:
        """Create an empty inbox.

        Args:
            number: National form.
            keep: Most messages kept per thread (the oldest are forgotten); None for all.
        """
        self.number = number
        self._keep = keep
        self._threads: dict[str, _Thread] = {}

    def file(self, message: InboxMessage, brand: str | None) -> list[InboxMessage]:
        """Put a whole message in its thread.

        Args:
            message: The message.
            brand: The brand or code its sender matches (for spoof bookkeeping), if any.

        Returns:
            Spoofed messages that now share the thread with genuine messages of their brand
            and were not reported before (each is returned once).
        """
        thread = self._threads.get(message.sender)
        if thread is None:
            thread = self._threads[message.sender] = _Thread(self._keep)
        thread.messages.append(message)
        if brand is None:
            return []
        if "genuine" in message.flags:
            thread.genuine_brands.add(brand)
        elif "spoof" in message.flags:
            thread.unreported_spoofs.append((message, brand))
        if not thread.unreported_spoofs or not thread.genuine_brands:
            return []
        merged = [m for m, b in thread.unreported_spoofs if b in thread.genuine_brands]
        # (Spoofs are always filed eagerly: `file_deferred` takes no brand.)
        thread.unreported_spoofs = [
            (m, b) for m, b in thread.unreported_spoofs if b not in thread.genuine_brands
        ]
        return merged

    def file_deferred(
        self,
        at: float,
        sender: str,
        key: str,
        account: str,
        flags: frozenset[str],
        body: bytes,
        data_coding: int,
    ) -> None:
        """File a single (unconcatenated) message without a brand; decode it when viewed.

        Equivalent, for every view taken afterwards, to ``file(InboxMessage(at, sender,
        decode(body), (key,), account, flags), None)`` (which returns no spoofs), the body
        decoded as a handset would (undecodable octets replaced; an unknown data_coding
        shows as "").

        Args:
            at: When it became visible.
            sender: The displayed sender (the thread key).
            key: Its message key.
            account: system_id that sent it.
            flags: Its flags.
            body: The short_message octets (no UDH).
            data_coding: Their data_coding.
        """
        thread = self._threads.get(sender)
        if thread is None:
            thread = self._threads[sender] = _Thread(self._keep)
        thread.messages.append((at, sender, key, account, _flag_text(flags), body, data_coding))

    def deferred_thread(self, sender: str) -> DeferredThread:
        """The messages of `sender`'s thread, to file deferred messages by appending to it.

        Appending ``(at, sender, key, account, flag_text(flags), body, data_coding)`` does
        exactly what ``file_deferred(at, sender, key, account, flags, body, data_coding)`` does
        (the network keeps the thread of its latest sender per recipient and appends directly).
        The thread is created now if it is new: ask only when a message is being filed. A
        thread is never replaced, so the object stays this thread's.

        Args:
            sender: The displayed sender (the thread key).

        Returns:
            The thread's message deque (bounded to the newest `keep`).
        """
        thread = self._threads.get(sender)
        if thread is None:
            thread = self._threads[sender] = _Thread(self._keep)
        return thread.messages

    @staticmethod
    def _built(thread: _Thread) -> tuple[InboxMessage, ...]:
        messages = thread.messages
        for i, m in enumerate(messages):
            if not isinstance(m, InboxMessage):
                messages[i] = _build(m)
        return tuple(m for m in messages if isinstance(m, InboxMessage))

    def view(self) -> HandsetView:
        """An immutable snapshot."""
        return HandsetView(
            self.number,
            tuple(ThreadView(s, self._built(t)) for s, t in self._threads.items()),
        )
