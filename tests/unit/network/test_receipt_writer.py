"""`ReceiptWriter` writes exactly `sms.receipt.format_receipt`'s text, whatever it caches."""

from __future__ import annotations

import random
import zoneinfo
from datetime import UTC, datetime

import pytest

from simulator.network.receipts import ReceiptWriter
from sms.receipt import Receipt, format_receipt
from tests.unit.network.helpers import DAY, EPOCH


@pytest.mark.parametrize("seconds", [False, True])
@pytest.mark.parametrize("zone", ["Asia/Tokyo", "UTC", "America/New_York"])
def test_texts_equal_format_receipt(seconds: bool, zone: str) -> None:
    """Random submit/done times (DST switches included), stats, errors: identical texts."""
    tz = zoneinfo.ZoneInfo(zone)
    writer = ReceiptWriter(tz, seconds)
    rng = random.Random(4)
    for _ in range(3_000):
        submitted = EPOCH + rng.uniform(0, 400 * DAY)
        done = submitted + rng.choice((0.0, rng.uniform(0, 60), rng.uniform(0, 3 * DAY)))
        stat = rng.choice(("DELIVRD", "EXPIRED", "UNDELIV", "REJECTD", "UNKNOWN", "ENROUTE"))
        err = rng.choice((0, 1, 27, 34, 255))
        dlvrd = 1 if stat == "DELIVRD" else 0
        body = rng.choice(("", "hello", "様、お支払いをお願いいたします。あいうえおかきくけこ"))
        expected = format_receipt(
            Receipt(
                message_id="a1b2",
                sub=1,
                dlvrd=dlvrd,
                submit_date=datetime.fromtimestamp(submitted, UTC),
                done_date=datetime.fromtimestamp(done, UTC),
                stat=stat,
                err=str(err),
                text=body,
            ),
            tz=tz,
            seconds=seconds,
        )
        assert writer.text("a1b2", submitted, done, stat, err, dlvrd, body) == expected


def test_placeholder_dates_are_written_like_any_other() -> None:
    """A submit or done date equal to a template placeholder (2000-01-01/02) stays right."""
    tz = zoneinfo.ZoneInfo("Asia/Tokyo")
    writer = ReceiptWriter(tz, False)
    first = datetime(2000, 1, 1, tzinfo=tz).timestamp()
    second = first + DAY
    for submitted, done in ((first, second), (second, first), (second, second)):
        expected = format_receipt(
            Receipt(
                message_id="7",
                sub=1,
                dlvrd=1,
                submit_date=datetime.fromtimestamp(submitted, UTC),
                done_date=datetime.fromtimestamp(done, UTC),
                stat="DELIVRD",
                err="0",
                text="x",
            ),
            tz=tz,
        )
        assert writer.text("7", submitted, done, "DELIVRD", 0, 1, "x") == expected
