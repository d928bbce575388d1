"""Receipt text and ids: `sms.receipt.format_receipt` plus the carrier's fault knobs.

Invariants:
    * The standard text is always `sms.receipt.format_receipt`'s (SMPP 3.4 Appendix B). For
      speed the middle of the text (sub .. err) is formatted once per (submit minute, done minute,
      stat, err, dlvrd) and spliced between `id:` and `text:`; this relies only on the layout
      that module guarantees (id first, text last). A middle not seen yet is its (stat, err,
      dlvrd) template (written by `format_receipt` with two placeholder dates) with the dates
      put in, each written once per minute: with a fast simulated clock almost every receipt
      has a new pair of minutes, and a date costs far less than a text. A date in 2000-2099
      is written with the strftime layout `format_receipt` uses for it (`_DATE_LAYOUT`, checked
      against `format_receipt` when the writer is built and by a property test); any other is
      handed to `format_receipt`, which refuses it as it would a whole text.
    * Damaged texts (`damage`) are deterministic functions of their inputs and one uniform.
    * Id formatting is pure: the id *number* comes from the network's arrival-order counter,
      which is not part of any fate.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from typing import Final

from simulator.network.config import MessageIdConfig
from sms.receipt import Receipt, format_receipt

__all__ = ["ReceiptWriter", "damage", "format_id", "id_formatter"]

_PLACEHOLDER_ID: Final = "X"
#: How `sms.receipt.format_receipt` writes a date (local time), by `seconds`.
_DATE_LAYOUT: Final[dict[bool, str]] = {False: "%y%m%d%H%M", True: "%y%m%d%H%M%S"}
_CACHE_LIMIT: Final = 4096


def format_id(number: int, cfg: MessageIdConfig, base: str | None = None) -> str:
    """Write an id number.

    Args:
        number: The id number.
        cfg: Id settings.
        base: "hex" or "decimal" to override `cfg.format` (the id_in_receipt knob); the
            override drops zero padding and prefix, as a different SMSC component would.

    Returns:
        The id text.
    """
    if base is None:
        digits = (
            format(number, "X" if cfg.uppercase else "x") if cfg.format == "hex" else str(number)
        )
        return cfg.prefix + digits.zfill(cfg.width)
    return format(number, "x") if base == "hex" else str(number)


def id_formatter(cfg: MessageIdConfig) -> Callable[[int], str]:
    """`format_id` without a base override, compiled once (the hot path's form).

    Args:
        cfg: Id settings.

    Returns:
        A function of the id number giving exactly ``format_id(number, cfg)``.
    """
    spec = ("X" if cfg.uppercase else "x") if cfg.format == "hex" else "d"
    # A zero-padded field of the configured width; ids are non-negative, so "{:0Nx}" writes
    # what format(number, "x").zfill(N) writes.
    return (cfg.prefix.replace("{", "{{").replace("}", "}}") + f"{{:0{cfg.width}{spec}}}").format


class ReceiptWriter:
    """Formats receipt texts in one zone, memoising the date/stat middle part."""

    def __init__(self, tz: tzinfo, seconds: bool) -> None:
        """Bind the zone.

        Args:
            tz: Zone the dates are written in.
            seconds: 12-digit dates instead of 10.
        """
        self._tz = tz
        self._seconds = seconds
        self._unit = 1 if seconds else 60
        self._middle: dict[tuple[int, int, str, int, int], str] = {}
        self._dates: dict[int, str] = {}
        self._templates: dict[tuple[str, int, int], tuple[str, str, str]] = {}
        # Placeholder dates for the templates: distinct, and 2000 fits the two-digit year.
        first = datetime(2000, 1, 1, tzinfo=tz)
        self._placeholders = (first, first + timedelta(days=1))
        self._placeholder_text = (
            self._date_text(first),
            self._date_text(first + timedelta(days=1)),
        )
        self._layout = _DATE_LAYOUT[seconds]
        if first.strftime(self._layout) != self._placeholder_text[0]:
            raise RuntimeError("sms.receipt writes dates in another layout than _DATE_LAYOUT")

    def _date_text(self, when: datetime) -> str:
        """A date as `format_receipt` writes it (its layout: id first, text last)."""
        full = format_receipt(
            Receipt(message_id=_PLACEHOLDER_ID, submit_date=when, text=""),
            tz=self._tz,
            seconds=self._seconds,
        )
        return full[full.index("submit date:") + len("submit date:") : full.rindex(" text:")]

    def _date(self, unit_index: int) -> str:
        text = self._dates.get(unit_index)
        if text is None:
            when = datetime.fromtimestamp(unit_index * self._unit, self._tz)
            text = (
                when.strftime(self._layout)
                if 2000 <= when.year <= 2099
                else self._date_text(when)  # format_receipt's own refusal
            )
            if len(self._dates) >= _CACHE_LIMIT:
                self._dates.clear()
            self._dates[unit_index] = text
        return text

    def _template(self, stat: str, err: int, dlvrd: int) -> tuple[str, str, str]:
        """The middle for (stat, err, dlvrd) cut around its two dates."""
        key = (stat, err, dlvrd)
        template = self._templates.get(key)
        if template is None:
            submitted, done = self._placeholders
            full = format_receipt(
                Receipt(
                    message_id=_PLACEHOLDER_ID,
                    sub=1,
                    dlvrd=dlvrd,
                    submit_date=submitted,
                    done_date=done,
                    stat=stat,
                    err=str(err),
                    text="",
                ),
                tz=self._tz,
                seconds=self._seconds,
            )
            middle = full[len("id:" + _PLACEHOLDER_ID) : full.rindex(" text:")]
            head, _, rest = middle.partition("submit date:" + self._placeholder_text[0])
            between, _, tail = rest.partition("done date:" + self._placeholder_text[1])
            template = (head + "submit date:", between + "done date:", tail)
            if len(self._templates) >= _CACHE_LIMIT:
                self._templates.clear()
            self._templates[key] = template
        return template

    def text(
        self,
        message_id: str,
        submitted_at: float,
        done_at: float,
        stat: str,
        err: int,
        dlvrd: int,
        body: str,
    ) -> str:
        """The receipt text.

        Args:
            message_id: The id to write.
            submitted_at: Submission time (epoch seconds).
            done_at: Time of the reported state.
            stat: Stat word.
            err: Error code.
            dlvrd: 1 when delivered, else 0.
            body: The message text (the first 20 characters are kept).

        Returns:
            `id:... sub:001 dlvrd:... submit date:... done date:... stat:... err:... text:...`
        """
        unit = self._unit
        key = (int(submitted_at // unit), int(done_at // unit), stat, err, dlvrd)
        middle = self._middle.get(key)
        if middle is None:
            head, between, tail = self._template(stat, err, dlvrd)
            middle = head + self._date(key[0]) + between + self._date(key[1]) + tail
            if len(self._middle) >= _CACHE_LIMIT:
                self._middle.clear()
            self._middle[key] = middle
        return f"id:{message_id}{middle} text:{body[:20]}"


def damage(text: str, message_id: str, stat: str, err: int, u: float) -> str:
    """A malformed variant of a receipt text, as broken carriers send them.

    Args:
        text: The well-formed text.
        message_id: Its id.
        stat: Its stat word.
        err: Its error code.
        u: A uniform in (0, 1) choosing the variant.

    Returns:
        One of: no `stat:` field; an impossible done date (month 13); no `id:` field (cannot be
        correlated at all); a CSV line `id,stat,err` (a non-standard carrier format, DOMAIN §3).
    """
    variant = int(u * 4)
    if variant == 0:
        return text.replace(f" stat:{stat}", "")
    if variant == 1:
        head, _, tail = text.partition("done date:")
        return head + "done date:" + "9913" + tail[4:]
    if variant == 2:
        return text.replace(f"id:{message_id} ", "", 1)
    return f"{message_id},{stat},{err:03d}"
