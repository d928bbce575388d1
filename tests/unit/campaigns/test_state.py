"""The campaign state machine is a table: every legal edge works, every other pair raises."""

from __future__ import annotations

import pytest

from gateway.campaigns.errors import IllegalCampaignTransition
from gateway.campaigns.state import TRANSITIONS, CampaignEvent, CampaignState, advance

D, A, S, DONE, C = (
    CampaignState.DRAFT,
    CampaignState.APPROVED,
    CampaignState.SENDING,
    CampaignState.DONE,
    CampaignState.CANCELLED,
)
LEGAL = [
    (D, CampaignEvent.APPROVE, A),
    (D, CampaignEvent.CANCEL, C),
    (A, CampaignEvent.SEND, S),
    (A, CampaignEvent.CANCEL, C),
    (S, CampaignEvent.SEND, S),
    (S, CampaignEvent.FINISH, DONE),
    (S, CampaignEvent.CANCEL, C),
]


@pytest.mark.parametrize(("state", "event", "target"), LEGAL)
def test_legal_edges(state: CampaignState, event: CampaignEvent, target: CampaignState) -> None:
    assert advance("cmp-1", state, event) is target


def test_table_is_exactly_the_legal_edges() -> None:
    assert {(s, e): t for s, e, t in LEGAL} == dict(TRANSITIONS)


@pytest.mark.parametrize("state", list(CampaignState))
@pytest.mark.parametrize("event", list(CampaignEvent))
def test_every_other_pair_raises(state: CampaignState, event: CampaignEvent) -> None:
    if (state, event) in TRANSITIONS:
        return
    with pytest.raises(IllegalCampaignTransition) as info:
        advance("cmp-1", state, event)
    assert (info.value.state, info.value.event) == (state.value, event.value)


def test_terminal_states_have_no_exit() -> None:
    assert not [pair for pair in TRANSITIONS if pair[0] in (DONE, C)]


def test_sending_needs_approval() -> None:
    with pytest.raises(IllegalCampaignTransition, match="cannot send a campaign that is draft"):
        advance("cmp-1", D, CampaignEvent.SEND)
