"""Harness vendor TLVs: what the gateway writes, the simulator's reader reads back."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.network.messages import vendor_fields
from sms.harness import (
    TLV_HARNESS_MESSAGE_KEY,
    TLV_INTENDED_OWNER,
    TLV_OBTAINED_DATE,
    harness_tlvs,
)


def test_absent_values_give_no_tlv() -> None:
    assert harness_tlvs() == ()
    assert harness_tlvs(key="", owner=None) == ()


def test_encoding_is_the_documented_one() -> None:
    tlvs = dict(harness_tlvs("k-1", "owner-7", date(2024, 2, 29)))
    assert tlvs == {
        TLV_HARNESS_MESSAGE_KEY: b"k-1\x00",
        TLV_INTENDED_OWNER: b"owner-7\x00",
        TLV_OBTAINED_DATE: b"20240229",
    }


def test_too_long_value_is_refused() -> None:
    with pytest.raises(ValueError, match="0x1500"):
        harness_tlvs(key="x" * 70_000)


@given(
    key=st.text(
        st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]), max_size=40
    ),
    owner=st.text(
        st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]), max_size=40
    ),
    obtained=st.one_of(st.none(), st.dates(min_value=date(1000, 1, 1))),
)
def test_simulator_reads_back_what_the_gateway_writes(
    key: str, owner: str, obtained: date | None
) -> None:
    fields = vendor_fields(dict(harness_tlvs(key, owner, obtained)))
    assert fields.problems == ()
    assert fields.message_key == (key or None)
    assert fields.intended_owner == (owner or None)
    assert fields.obtained_date == obtained
