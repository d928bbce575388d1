"""Micro benchmarks: MSISDN parsing (CSV import) and receipt parsing (DLR ingest).

Run: `.venv/bin/pytest bench/test_bench_numbers_receipt.py --benchmark-only -p no:cacheprovider`.
Each round processes a fixed, seeded batch, so rates are comparable run to run.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from sms.numbers import InvalidNumber, parse_msisdn, try_parse
from sms.receipt import (
    ID_HEX_TO_DECIMAL,
    STAT_BY_STATE,
    Receipt,
    format_receipt,
    ids_match,
    parse_receipt,
)

BATCH = 1_000
SEED = 20261124


def _numbers(rng: random.Random) -> list[str]:
    forms = [
        "0{p}0-{a:04d}-{b:04d}",
        "0{p}0{a:04d}{b:04d}",
        "+81 {p}0 {a:04d} {b:04d}",
        "０{p}０－{a:04d}－{b:04d}",
        "0081{p}0{a:04d}{b:04d}",
    ]
    out = []
    for _ in range(BATCH):
        form = rng.choice(forms)
        a, b = rng.randrange(1000, 10000), rng.randrange(10000)
        out.append(form.format(p=rng.choice("789"), a=a, b=b))
    return out


def _receipt_texts(rng: random.Random) -> list[str]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    out = []
    for i in range(BATCH):
        submit = start + timedelta(minutes=rng.randrange(60 * 24 * 30))
        receipt = Receipt(
            message_id=f"{rng.getrandbits(40):X}",
            sub=1,
            dlvrd=1,
            submit_date=submit,
            done_date=submit + timedelta(minutes=rng.randrange(5)),
            stat=rng.choice(list(STAT_BY_STATE.values())),
            err=f"{rng.choice([0, 1, 27, 34]):03d}",
            text=f"Payment reminder {i}",
        )
        out.append(format_receipt(receipt))
    return out


def test_bench_parse_msisdn(benchmark: BenchmarkFixture) -> None:
    numbers = _numbers(random.Random(SEED))

    def run() -> int:
        return sum(1 for raw in numbers if parse_msisdn(raw).kind == "mobile")

    assert benchmark(run) == BATCH
    benchmark.extra_info["items_per_round"] = BATCH


def test_bench_try_parse_mixed_valid_and_invalid(benchmark: BenchmarkFixture) -> None:
    rng = random.Random(SEED)
    rows = _numbers(rng)[: BATCH // 2] + [
        rng.choice(["03-1234-5678", "090-1234", "abc", "020-1234-5678", ""])
        for _ in range(BATCH // 2)
    ]

    def run() -> int:
        return sum(isinstance(try_parse(raw), InvalidNumber) for raw in rows)

    assert benchmark(run) == BATCH // 2
    benchmark.extra_info["items_per_round"] = BATCH


def test_bench_parse_receipt(benchmark: BenchmarkFixture) -> None:
    texts = _receipt_texts(random.Random(SEED))

    def run() -> int:
        return sum(1 for text in texts if parse_receipt(text).message_id)

    assert benchmark(run) == BATCH
    benchmark.extra_info["items_per_round"] = BATCH


@pytest.mark.parametrize("count", [BATCH])
def test_bench_ids_match_hex_to_decimal(benchmark: BenchmarkFixture, count: int) -> None:
    rng = random.Random(SEED)
    pairs = [(f"{n:X}", str(n)) for n in (rng.getrandbits(48) for _ in range(count))]

    def run() -> int:
        return sum(ids_match(a, b, ID_HEX_TO_DECIMAL) for a, b in pairs)

    assert benchmark(run) == count
    benchmark.extra_info["items_per_round"] = count
