"""The campaign report names every terminal state the gateway's store can reach."""

from __future__ import annotations

from gateway.campaigns.report import CampaignReport
from gateway.store import TERMINAL_STATES


def test_every_terminal_state_is_reported_on_its_own() -> None:
    states = {"delivered": 5, "failed": 3, "rejected": 2, "expired": 1, "unknown": 4}
    report = CampaignReport("c-1", "Nov", "sent", "sato", 0.0, "tanaka", 1.0, None, states=states)
    out = report.to_dict()
    for state, count in states.items():
        assert out[state] == count
    assert out["message_states"] == states
    assert {"delivered", "failed", "rejected", "expired", "unknown"} <= {
        str(getattr(s, "value", s)) for s in TERMINAL_STATES
    }
