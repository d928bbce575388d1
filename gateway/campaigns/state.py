"""The campaign state machine. Rule: every change of a campaign's state goes through `advance`.

::

    draft ──approve──> approved ──send──> sending ──finish──> done
      │                   │                 │ └──send──> sending (a later schedule slot)
      └──cancel──┬────────┴─────cancel──────┘
                 v
             cancelled

* ``draft``: imported and previewed; can be approved by an operator other than its creator.
* ``approved``: a second operator signed it off (names and times are in the event log);
  nothing has been handed to the gateway yet.
* ``sending``: at least one hand-off happened; stays here while the schedule has slots left
  (monthly, reminder sequences).
* ``done`` and ``cancelled`` are terminal: nothing more is handed over. Cancelling does not
  recall messages already handed to the gateway (cancel them in the store).

Transitions are data (`TRANSITIONS`), as in h11's ``_state.py``: a pair missing from the table
is an `IllegalCampaignTransition`, never a silent no-op.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from gateway.campaigns.errors import IllegalCampaignTransition

__all__ = ["TRANSITIONS", "CampaignEvent", "CampaignState", "advance"]


class CampaignState(StrEnum):
    """Lifecycle state of a campaign."""

    DRAFT = "draft"
    APPROVED = "approved"
    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"


class CampaignEvent(StrEnum):
    """What can happen to a campaign."""

    APPROVE = "approve"
    SEND = "send"
    FINISH = "finish"
    CANCEL = "cancel"


_D, _A, _S = CampaignState.DRAFT, CampaignState.APPROVED, CampaignState.SENDING

#: (state, event) -> next state. Anything else is illegal.
TRANSITIONS: Final[Mapping[tuple[CampaignState, CampaignEvent], CampaignState]] = {
    (_D, CampaignEvent.APPROVE): _A,
    (_D, CampaignEvent.CANCEL): CampaignState.CANCELLED,
    (_A, CampaignEvent.SEND): _S,
    (_A, CampaignEvent.CANCEL): CampaignState.CANCELLED,
    (_S, CampaignEvent.SEND): _S,
    (_S, CampaignEvent.FINISH): CampaignState.DONE,
    (_S, CampaignEvent.CANCEL): CampaignState.CANCELLED,
}


def advance(campaign_id: str, state: CampaignState, event: CampaignEvent) -> CampaignState:
    """The state after `event`.

    Args:
        campaign_id: For the error.
        state: The current state.
        event: What happens.

    Returns:
        The next state.

    Raises:
        IllegalCampaignTransition: The table has no such edge.
    """
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalCampaignTransition(campaign_id, state.value, event.value) from None
