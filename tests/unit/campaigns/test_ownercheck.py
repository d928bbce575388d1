"""The owner-check fake's semantics (the HTTP client is tested against a server in
tests/integration/test_campaign_owner_check_http.py)."""

from __future__ import annotations

from datetime import date

import pytest

from gateway.campaigns.ownercheck import FakeOwnerCheckClient, OwnerStatus


@pytest.mark.asyncio
async def test_fake_answers_like_the_database() -> None:
    fake = FakeOwnerCheckClient(
        {"+819000000001": date(2025, 1, 15)},
        history_start=date(2016, 1, 1),
        no_data=["+819000000003"],
    )
    answers = await fake.check_many(
        [
            ("+819000000001", date(2024, 4, 1)),  # changed after we got it
            ("+819000000002", date(2024, 4, 1)),  # never changed
            ("+819000000003", date(2024, 4, 1)),  # unknown to the database
            ("+819000000004", date(2010, 1, 1)),  # older than the history
        ]
    )
    assert {n: a.status for n, a in answers.items()} == {
        "+819000000001": OwnerStatus.CHANGED,
        "+819000000002": OwnerStatus.UNCHANGED,
        "+819000000003": OwnerStatus.NO_DATA,
        "+819000000004": OwnerStatus.NO_DATA,
    }
    assert answers["+819000000001"].last_change_date == date(2025, 1, 15)
    assert len(fake.calls) == 1


@pytest.mark.asyncio
async def test_change_before_we_got_the_number_is_unchanged_and_same_day_counts() -> None:
    fake = FakeOwnerCheckClient({"+819000000001": date(2024, 4, 1)})
    before = await fake.check_many([("+819000000001", date(2024, 4, 2))])
    same_day = await fake.check_many([("+819000000001", date(2024, 4, 1))])
    assert before["+819000000001"].status is OwnerStatus.UNCHANGED
    assert same_day["+819000000001"].status is OwnerStatus.CHANGED
