"""The carrier model's hot-path helpers equal the general functions they stand in for."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from simulator.network.config import MessageIdConfig
from simulator.network.fate import FateSource, words_at
from simulator.network.receipts import format_id, id_formatter


@given(
    fmt=st.sampled_from(["hex", "decimal"]),
    width=st.integers(1, 64),
    uppercase=st.booleans(),
    prefix=st.sampled_from(["", "SIM-", "{x}", "}{", "a{0}b"]),
    number=st.integers(0, 2**70),
)
def test_id_formatter_is_format_id(
    fmt: str, width: int, uppercase: bool, prefix: str, number: int
) -> None:
    cfg = MessageIdConfig.model_validate(
        {"format": fmt, "width": width, "uppercase": uppercase, "prefix": prefix}
    )
    assert id_formatter(cfg)(number) == format_id(number, cfg)


@given(seed=st.integers(0, 2**64), scenario=st.text(max_size=8), label=st.text(max_size=8),
       key=st.text(max_size=40))  # fmt: skip
def test_words_at_is_words(seed: int, scenario: str, label: str, key: str) -> None:
    source = FateSource(seed, scenario)
    assert words_at(source.stream(label), key) == source.words(label, key)
