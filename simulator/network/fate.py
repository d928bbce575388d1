"""Deterministic per-message randomness and the message-key rule.

A message's fate is a function of (seed, scenario id, message key), never of arrival order,
timing or Python's `hash()` (which is salted per process). This module owns both halves:

**The random streams.** `FateSource(seed, scenario_id).rng(label, key)` returns a `FateRandom`: a
`random.Random` whose stream is a blake2b chain over `seed|scenario|label|key`. Building one costs
one hash (no Mersenne Twister seeding, which costs ~4 µs), and every `random.Random` method
(`choices`, `expovariate`, ...) works on it because they are all built on `random()`.

**The message key** (documented for scenario authors and gateway tests):

1. `SubmittedMessage.message_key` when given: from scenario metadata, or from the vendor TLV
   0x1500 (`harness_message_key`, a C-octet string; see `simulator.network.messages`).
   Base key `k:<value>`.
2. Else the TLV `user_message_reference` (0x0204) when present:
   base key `u:<account>|<source>|<destination>|<umr>`.
3. Else a content hash over everything that can change the outcome: account, source_addr and
   its TON, destination, data_coding, esm_class, registered_delivery, validity, intended owner,
   obtained date, and for a message that is not concatenated the short_message body:
   `h:` + blake2b(fields, body). The parts of a concatenated message (UDH or SAR) differ in
   content, so the message is named by what all its parts share: `c:` + blake2b(fields,
   reference, total).

The destination is the canonical national form when the number is known, so "+8190..." and
"090..." name the same message. The key of the *n*-th accepted submission of the same base key
(counted per part seq) is `<base>#<n>`: identical submissions are indistinguishable, so counting
them is order-independent, and a resubmission after a failure gets a fresh fate instead of failing
forever. Only accepted submits are counted, so a throttled attempt does not shift the fate of the
attempt that gets through. A part's own stream uses `<key>/<seq>`.

Invariants:
    * No global state: no `random` module functions, no clock, no `hash()`.
    * Streams depend only on their material; two `FateRandom`s with equal material produce equal
      sequences on every platform (blake2b and IEEE doubles are portable).
"""

from __future__ import annotations

import random
import struct
from hashlib import blake2b
from typing import Final

__all__ = [
    "FateRandom",
    "FateSource",
    "content_digest",
    "digest_after",
    "digest_at",
    "threshold",
    "uniform",
    "words_at",
    "words_of",
]

_WORDS: Final = struct.Struct(">8Q")
_SCALE: Final[float] = 2.0**-53
_WORDS32: Final = struct.Struct(">16I")
_SCALE32: Final[float] = 2.0**-32


def uniform(word: int) -> float:
    """A 32-bit word as a uniform in the open interval (0, 1).

    Args:
        word: An integer in [0, 2**32).

    Returns:
        `(word + 0.5) / 2**32`.
    """
    return (word + 0.5) * _SCALE32


def digest_at(stream: bytes, key: str) -> bytes:
    """The 64 octets behind `words_at` (kept instead of the words when few are read now).

    Args:
        stream: ``FateSource.stream(label)``.
        key: Whose fate it is.

    Returns:
        The blake2b digest whose 32-bit big-endian words are ``words_at(stream, key)``.
    """
    return blake2b(stream + key.encode(), digest_size=64).digest()


def digest_after(prefix: blake2b, key: str) -> bytes:
    """`digest_at` from the stream's prefix already hashed (`FateSource.hasher`).

    blake2b is sequential, so copying the state after the prefix and feeding the key gives the
    same 64 octets as hashing prefix and key together, without absorbing the prefix again.

    Args:
        prefix: ``FateSource.hasher(label)`` (not changed).
        key: Whose fate it is.

    Returns:
        ``digest_at(FateSource.stream(label), key)``.
    """
    h = prefix.copy()
    h.update(key.encode())
    return h.digest()


def words_of(digest: bytes) -> tuple[int, ...]:
    """The 16 words of a `digest_at` digest.

    Args:
        digest: 64 octets.

    Returns:
        ``words_at`` of the same stream and key.
    """
    return _WORDS32.unpack(digest)


def words_at(stream: bytes, key: str) -> tuple[int, ...]:
    """`FateSource.words` for a stream prefix from `FateSource.stream` (the hot path's form).

    Args:
        stream: ``FateSource.stream(label)``.
        key: Whose fate it is.

    Returns:
        The same 16 integers in [0, 2**32) as ``words(label, key)``.
    """
    return _WORDS32.unpack(blake2b(stream + key.encode(), digest_size=64).digest())


def threshold(rate: float) -> int:
    """The integer a 32-bit word must stay below to hit with probability `rate`.

    Args:
        rate: A probability in [0, 1].

    Returns:
        `round(rate * 2**32)`: 0 never hits, 2**32 always does.
    """
    return round(rate * 4294967296.0)


class FateRandom(random.Random):
    """A `random.Random` driven by a blake2b chain instead of the Mersenne Twister.

    Values from `random()` lie strictly inside (0, 1), so quantile functions never see 0 or 1.
    `seed()` is refused: the stream is fixed by its material.
    """

    def __init__(self, material: bytes) -> None:
        """Start the stream for `material` (no call to `random.Random.__init__`: no seeding).

        Args:
            material: The bytes that name the stream.
        """
        self._block = blake2b(material, digest_size=64).digest()
        self._words: tuple[int, ...] = _WORDS.unpack(self._block)
        self._index = 0
        self.gauss_next = None

    def random(self) -> float:
        """The next uniform in the open interval (0, 1)."""
        i = self._index
        if i == 8:
            self._block = blake2b(self._block, digest_size=64).digest()
            self._words = _WORDS.unpack(self._block)
            i = 0
        self._index = i + 1
        return ((self._words[i] >> 11) + 0.5) * _SCALE

    def seed(self, a: object = None, version: int = 2) -> None:
        """Refused: the stream is fixed by its material.

        Raises:
            TypeError: always.
        """
        raise TypeError("a FateRandom cannot be reseeded; build another from new material")


class FateSource:
    """Names random streams for one (seed, scenario) pair."""

    __slots__ = ("_prefix",)

    def __init__(self, seed: int, scenario_id: str) -> None:
        """Bind the seed and the scenario id.

        Args:
            seed: The scenario seed.
            scenario_id: The scenario's identifier.
        """
        self._prefix = f"{seed}\x1f{scenario_id}\x1f".encode()

    def words(self, label: str, key: str) -> tuple[int, ...]:
        """Sixteen 32-bit words naming one purpose of one entity, from a single hash.

        The hot path compares words with integer thresholds (`threshold(rate)`) and turns only
        the ones it needs into floats (`uniform(word)`), so a decision costs one blake2b call.

        Args:
            label: As for `rng`.
            key: As for `rng`.

        Returns:
            16 integers in [0, 2**32).
        """
        digest = blake2b(
            self._prefix + label.encode() + b"\x1f" + key.encode(), digest_size=64
        ).digest()
        return _WORDS32.unpack(digest)

    def stream(self, label: str) -> bytes:
        """The hash material in front of every key of one label (for `words_at`).

        Args:
            label: As for `rng`.

        Returns:
            ``seed|scenario|label|`` as bytes.
        """
        return self._prefix + label.encode() + b"\x1f"

    def hasher(self, label: str) -> blake2b:
        """A blake2b state that has absorbed `stream` (for `digest_after`; copy, never feed).

        Args:
            label: As for `rng`.

        Returns:
            ``blake2b(stream(label), digest_size=64)``.
        """
        return blake2b(self.stream(label), digest_size=64)

    def rng(self, label: str, key: str) -> FateRandom:
        """The stream for one purpose (`label`) of one entity (`key`).

        Args:
            label: What the stream decides, e.g. "msg", "part", "subscriber", "history".
            key: Whose fate it is (a message key, a number, ...).

        Returns:
            A fresh stream; equal arguments always give equal streams.
        """
        return FateRandom(self._prefix + label.encode() + b"\x1f" + key.encode())


def content_digest(*fields: str | bytes | int) -> str:
    """A short stable hex digest of fields (used for content-hash message keys).

    Args:
        fields: Strings, bytes or integers. Each is written with its length in front, so
            field boundaries cannot be shifted to forge a collision.

    Returns:
        24 hex characters (96 bits).
    """
    chunks: list[bytes] = []
    for field in fields:
        data = (
            str(field).encode()
            if isinstance(field, int)
            else field.encode()
            if isinstance(field, str)
            else field
        )
        chunks.append(len(data).to_bytes(4, "big"))
        chunks.append(data)
    return blake2b(b"".join(chunks), digest_size=12).hexdigest()
