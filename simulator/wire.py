"""Wire faults of the server shell: damaged PDUs, a deliver_sm before bind_resp, garbage bytes.

The carrier model (``simulator.network.faults``) decides what an SMSC *answers*; the faults here
damage what it *writes*. ``WirePlan`` holds the ``wire_faults`` section of the simulator
configuration (``simulator.config.WireFaultsConfig``, the same kinds and fields as a scenario's
``simulator.wire_faults``) with its windows resolved to absolute simulated epoch seconds, and
decides, write by write::

    plan.damage_frame(command_id, account, now)   the malformed_pdu fault to apply, or None
    damage(frame, variant)                        the damaged octets (pure)
    plan.before_bound(account, now)               write a deliver_sm before this bind_resp?
    plan.garbage(session, account, now)           octets to write once onto a bound session
    plan.next_start(now)                          when a window opens next (arm a timer)

``simulator.smsc.Smsc`` applies them to the frames it writes (``deliver_sm``,
``submit_sm_resp``, ``enquire_link``) and publishes each damaged write as an
``Alert(alert_kind="malformed_pdu")``.

Damage, per variant (the frame's other octets are kept):

    command_length_too_short   command_length = 8 (below the 16-octet header)
    command_length_too_long    command_length = 0x7FFFFFFF (above any maximum)
    invalid_command_id         command_id = 0x000000FF (no PDU has it; the response bit is kept)
    bad_field                  the body becomes octets that do not parse: C-octet strings
                               without their NUL (deliver_sm, submit_sm_resp) or a body where
                               none may be (enquire_link); command_length matches the new size

Invariants:
    * Pure and deterministic: time is an argument; every draw comes from one ``random.Random``
      per fault seeded from (``seed``, the fault's index), so the same configuration and the
      same sequence of writes damage the same PDUs.
    * No state but the draw streams and counters: ``max_count`` per fault, one garbage write per
      (fault, session). The garbage memory is bounded by the sessions the server forgets
      (``forget``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Final

from simulator.config import (
    WireDeliverBeforeBound,
    WireFault,
    WireFaultsConfig,
    WireGarbageBytes,
    WireMalformedPdu,
)
from simulator.smpp.constants import CommandId

__all__ = [
    "BAD_COMMAND_ID",
    "DAMAGED_COMMANDS",
    "TOO_LONG",
    "TOO_SHORT",
    "WirePlan",
    "damage",
]

#: command_length written by ``command_length_too_short`` (below the 16-octet header).
TOO_SHORT: Final[int] = 8
#: command_length written by ``command_length_too_long`` (above any sane maximum).
TOO_LONG: Final[int] = 0x7FFFFFFF
#: command_id written by ``invalid_command_id`` (no SMPP 3.4 / 5.0 PDU has it).
BAD_COMMAND_ID: Final[int] = 0x000000FF
#: The PDU names a ``malformed_pdu`` fault may target, by command_id.
DAMAGED_COMMANDS: Final[dict[int, str]] = {
    int(CommandId.DELIVER_SM): "deliver_sm",
    int(CommandId.SUBMIT_SM_RESP): "submit_sm_resp",
    int(CommandId.ENQUIRE_LINK): "enquire_link",
}
_RESPONSE_BIT: Final[int] = 0x80000000


def damage(frame: bytes, variant: str) -> bytes:
    """Damage one encoded PDU.

    Args:
        frame: A whole, well-formed PDU (header and body).
        variant: command_length_too_short, command_length_too_long, invalid_command_id or
            bad_field.

    Returns:
        The damaged octets.

    Raises:
        ValueError: Unknown variant, or ``frame`` is shorter than a header.
    """
    if len(frame) < 16:
        raise ValueError("a PDU has at least 16 octets")
    header = bytearray(frame[:16])
    body = frame[16:]
    if variant == "command_length_too_short":
        header[0:4] = TOO_SHORT.to_bytes(4, "big")
        return bytes(header) + body
    if variant == "command_length_too_long":
        header[0:4] = TOO_LONG.to_bytes(4, "big")
        return bytes(header) + body
    if variant == "invalid_command_id":
        command_id = int.from_bytes(header[4:8], "big")
        header[4:8] = (BAD_COMMAND_ID | (command_id & _RESPONSE_BIT)).to_bytes(4, "big")
        return bytes(header) + body
    if variant == "bad_field":
        command_id = int.from_bytes(header[4:8], "big")
        if command_id == CommandId.DELIVER_SM:
            # service_type is a C-octet string of at most 6 octets: 40 octets without a NUL
            # overflow it (and every later field).
            new_body = b"X" * 40
        elif command_id & _RESPONSE_BIT:
            # message_id is a C-octet string of at most 65 octets: 80 without a NUL.
            new_body = b"9" * 80
        else:
            # enquire_link (and any other bodiless request) gets a body it may not have.
            new_body = b"\xde\xad\xbe\xef"
        header[0:4] = (16 + len(new_body)).to_bytes(4, "big")
        return bytes(header) + new_body
    raise ValueError(f"unknown malformed_pdu variant {variant!r}")


class _Entry:
    __slots__ = ("count", "end", "fault", "index", "rng", "start")

    def __init__(self, index: int, fault: WireFault, epoch: float, seed: int) -> None:
        self.index = index
        self.fault = fault
        self.start = epoch + fault.start_s
        self.end = math.inf if fault.end_s is None else epoch + fault.end_s
        self.rng = random.Random(f"wire:{seed}:{index}:{fault.kind}")
        self.count = 0

    def applies(self, account: str, now: float) -> bool:
        accounts = self.fault.accounts
        return self.start <= now < self.end and (accounts is None or account in accounts)


class WirePlan:
    """The wire faults of one server, windows resolved (see the module docstring)."""

    def __init__(self, config: WireFaultsConfig, epoch: float) -> None:
        """Resolve the windows.

        Args:
            config: The ``wire_faults`` section.
            epoch: Simulated epoch seconds the windows count from (``config.epoch_s`` wins
                when given).
        """
        self.epoch = config.epoch_s if config.epoch_s is not None else epoch
        """Simulated epoch seconds the windows count from."""
        entries = [_Entry(i, f, self.epoch, config.seed) for i, f in enumerate(config.faults)]
        self._malformed: dict[str, list[_Entry]] = {}
        for entry in entries:
            if isinstance(entry.fault, WireMalformedPdu):
                self._malformed.setdefault(entry.fault.pdu, []).append(entry)
        self._early = [e for e in entries if isinstance(e.fault, WireDeliverBeforeBound)]
        self._garbage = [e for e in entries if isinstance(e.fault, WireGarbageBytes)]
        self._starts = sorted({e.start for e in entries})
        self._done: set[tuple[int, str]] = set()
        self.commands: frozenset[int] = frozenset(
            command_id for command_id, name in DAMAGED_COMMANDS.items() if name in self._malformed
        )
        """command_ids some ``malformed_pdu`` fault targets (skip the others cheaply)."""

    @property
    def empty(self) -> bool:
        """True when there are no wire faults at all."""
        return not (self._malformed or self._early or self._garbage)

    @property
    def has_garbage(self) -> bool:
        """True when a ``garbage_bytes`` fault exists."""
        return bool(self._garbage)

    def damage_frame(self, command_id: int, account: str, now: float) -> WireMalformedPdu | None:
        """Decide whether one PDU about to be written gets damaged.

        Every matching fault in its window draws one uniform (hit or not), in order; the first
        hit decides.

        Args:
            command_id: The PDU's command_id.
            account: system_id of the session it is written to ("" before a bind).
            now: Simulated epoch seconds.

        Returns:
            The deciding fault (apply ``damage(frame, fault.variant)``), or None.
        """
        name = DAMAGED_COMMANDS.get(command_id)
        if name is None:
            return None
        chosen: WireMalformedPdu | None = None
        for entry in self._malformed.get(name, ()):
            fault = entry.fault
            assert isinstance(fault, WireMalformedPdu)
            if not entry.applies(account, now):
                continue
            if fault.max_count is not None and entry.count >= fault.max_count:
                continue
            u = entry.rng.random()
            if chosen is None and u < fault.rate:
                entry.count += 1
                chosen = fault
        return chosen

    def before_bound(self, account: str, now: float) -> bool:
        """Whether a bind from ``account`` gets a deliver_sm before its bind_resp.

        Args:
            account: The system_id in the bind.
            now: Simulated epoch seconds.

        Returns:
            True when a ``deliver_before_bound`` fault is in force for it.
        """
        return any(e.applies(account, now) for e in self._early)

    def garbage(self, session: str, account: str, now: float) -> bytes:
        """Octets to write onto a bound session now (each fault at most once per session).

        The first octet is 0xFF, so the command_length they start with (at least 0xFF000000) no
        PDU can have: the bytes cannot pass for a PDU.

        Args:
            session: The session's name (unique per server).
            account: Its system_id.
            now: Simulated epoch seconds.

        Returns:
            The octets (empty when nothing is due).
        """
        out = b""
        for entry in self._garbage:
            key = (entry.index, session)
            if key in self._done or not entry.applies(account, now):
                continue
            self._done.add(key)
            fault = entry.fault
            assert isinstance(fault, WireGarbageBytes)
            data = bytearray(entry.rng.randbytes(fault.octets))
            data[0] = 0xFF
            out += bytes(data)
        return out

    def forget(self, session: str) -> None:
        """Forget a closed session's garbage bookkeeping.

        Args:
            session: The session's name.
        """
        if self._garbage:
            for entry in self._garbage:
                self._done.discard((entry.index, session))

    def next_start(self, now: float) -> float | None:
        """The next instant a window opens after ``now``.

        Args:
            now: Simulated epoch seconds.

        Returns:
            Epoch seconds, or None.
        """
        for start in self._starts:
            if start > now:
                return start
        return None

    @property
    def faults(self) -> Sequence[WireFault]:
        """The faults, in configuration order."""
        entries = sorted(
            [*(e for es in self._malformed.values() for e in es), *self._early, *self._garbage],
            key=lambda e: e.index,
        )
        return tuple(e.fault for e in entries)
