"""The root of every error raised by the `sms` package.

Invariants:
    * Every exception that `sms` raises on purpose derives from `SmsError`, so a shell can catch
      the whole domain with one `except SmsError` and still tell the cases apart by subclass.
    * Each module declares its own subclasses next to the code that raises them
      (`sms.alphabet.EncodingError`, `sms.udh.UdhError`, `sms.segments.SegmentationError`, ...);
      this module only holds the root so that it imports nothing and anything may import it.
"""

from __future__ import annotations


class SmsError(Exception):
    """Base class of all errors raised by the `sms` domain core."""
