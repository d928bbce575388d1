"""Micro benchmarks of sms.segments.plan on fixed inputs.

Run: .venv/bin/pytest bench/test_bench_segments.py --benchmark-only -p no:cacheprovider
"""

from __future__ import annotations

from typing import Any

import pytest

from sms.alphabet import Encoding
from sms.segments import Method, plan

# Deterministic inputs: a fixed Japanese dunning-style sentence, repeated and cut to length.
JP_SENTENCE = "お支払い期限が過ぎております。至急ご確認の上、お手続きをお願いいたします。"
JP_70 = (JP_SENTENCE * 3)[:70]
JP_670 = (JP_SENTENCE * 20)[:670]
ASCII_160 = ("Your payment is overdue. Please pay today: https://example.jp/p/12345 " * 3)[:160]

CASES = [
    ("jp-70-single", JP_70, "jp-au", Encoding.UCS2, 1),
    ("jp-670-ten-parts", JP_670, "jp-au", Encoding.UCS2, 10),
    ("ascii-160-single", ASCII_160, "generic", Encoding.GSM7, 1),
]


@pytest.mark.parametrize(
    ("text", "profile", "encoding", "parts"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bench_plan(
    benchmark: Any, text: str, profile: str, encoding: Encoding, parts: int
) -> None:
    result = benchmark(plan, text, profile, method=Method.UDH8, reference=42)
    assert result.encoding is encoding
    assert len(result.parts) == parts
