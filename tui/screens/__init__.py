"""The operator screens: overview, messages, handset, scenario, campaigns, and the control forms."""

from __future__ import annotations

from tui.screens.base import StateScreen, ViewContext
from tui.screens.campaigns import CampaignsScreen
from tui.screens.controls import (
    ClearFaultScreen,
    ConfirmScreen,
    FaultRequest,
    FaultScreen,
    RateScreen,
)
from tui.screens.handset import HandsetScreen
from tui.screens.messages import MessagesScreen
from tui.screens.overview import OverviewScreen
from tui.screens.scenario import ScenarioScreen

__all__ = [
    "CampaignsScreen",
    "ClearFaultScreen",
    "ConfirmScreen",
    "FaultRequest",
    "FaultScreen",
    "HandsetScreen",
    "MessagesScreen",
    "OverviewScreen",
    "RateScreen",
    "ScenarioScreen",
    "StateScreen",
    "ViewContext",
]
