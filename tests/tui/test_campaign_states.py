"""The campaigns screen names only states the gateway has (the TUI cannot import the gateway:
it sees campaigns through `CampaignProgress`, whose ``state`` and ``states`` carry the gateway's
``CampaignState`` and ``MessageState`` values)."""

from __future__ import annotations

from gateway.campaigns.state import CampaignState
from gateway.store import MessageState
from tui.screens import campaigns


def test_failed_states_are_gateway_message_states() -> None:
    known = {state.value for state in MessageState}
    assert set(campaigns.FAILED_STATES) <= known
    assert "delivered" not in campaigns.FAILED_STATES


def test_campaign_state_names_are_gateway_campaign_states() -> None:
    known = {state.value for state in CampaignState}
    assert campaigns._SENDING_STATES.issubset(known)
    assert set(campaigns._STATE_STYLES) == known  # every state has a style, and only those
