"""Errors raised by the dunning campaign workflow (`gateway.campaigns`).

Invariants:
    * Every error raised on purpose is a `GatewayError` (ARCHITECTURE rule 8). Those born in
      this package derive from `CampaignError`; the two that moved to the gateway core with
      their code, `OwnerCheckError` (`gateway.ownercheck`) and `QuietHoursError`
      (`gateway.policy.quiet`), live in `gateway.errors` and are re-exported here as the very
      same classes, so they are *not* `CampaignError` subclasses. An edge that must catch the
      whole campaign family (the CLI, the scheduler, the HTTP API) catches `CAMPAIGN_ERRORS`.
    * User-facing errors are located: they carry the file, line, column or field they are about
      as attributes, and say it in their message.
    * A row-level data problem in an imported CSV is *not* an exception: it is a `RowProblem`
      in the validation report. Exceptions are for what stops the whole step (an unreadable
      file, a mapping that names no column, a template that cannot be compiled).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from gateway.errors import GatewayError, OwnerCheckError, QuietHoursError

__all__ = [
    "CAMPAIGN_ERRORS",
    "ApprovalError",
    "CampaignConfigError",
    "CampaignError",
    "ColumnMappingError",
    "CsvReadError",
    "IllegalCampaignTransition",
    "NotApprovedError",
    "OwnerCheckError",
    "OwnerCheckRequired",
    "QuietHoursError",
    "ScheduleError",
    "TemplateError",
    "UnknownCampaign",
]


class CampaignError(GatewayError):
    """Root of every error raised by `gateway.campaigns`."""


class CsvReadError(CampaignError):
    """The CSV file cannot be read or decoded, or has no header row.

    Args:
        message: What is wrong.
        path: The file concerned.
        line: The physical line (1 = header), when the problem has one.
    """

    def __init__(self, message: str, *, path: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line


class ColumnMappingError(CampaignError):
    """A column mapping or filter names a column the CSV header does not have.

    Args:
        message: What is wrong.
        column: The column named by the mapping or filter.
        available: The header's columns, for the message.
    """

    def __init__(self, message: str, *, column: str, available: Sequence[str] = ()) -> None:
        hint = f" (columns: {', '.join(available)})" if available else ""
        super().__init__(f"{message}{hint}")
        self.column = column
        self.available = tuple(available)


class TemplateError(CampaignError):
    """A template cannot be compiled: bad syntax, an unsafe or unknown merge field, a bad format.

    Args:
        message: What is wrong.
        source: The template's file name (or ``<template>``).
        line: 1-based line of the offending brace in the template body.
        column: 1-based column of the offending brace.
    """

    def __init__(self, message: str, *, source: str, line: int, column: int) -> None:
        super().__init__(f"{source}:{line}:{column}: {message}")
        self.source = source
        self.line = line
        self.column = column


class CampaignConfigError(CampaignError, ValueError):
    """A campaign configuration or template front matter value is invalid.

    Args:
        message: What is wrong.
        field: Dotted name of the offending field, when known.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


class UnknownCampaign(CampaignError, KeyError):
    """No campaign has this id.

    Args:
        campaign_id: The id looked up.
    """

    def __init__(self, campaign_id: str) -> None:
        super().__init__(f"no campaign {campaign_id!r}")
        self.campaign_id = campaign_id

    def __str__(self) -> str:
        return f"no campaign {self.campaign_id!r}"


class IllegalCampaignTransition(CampaignError):
    """The campaign state machine has no edge for this (state, event) pair.

    Args:
        campaign_id: The campaign concerned.
        state: Its state.
        event: The event that was refused.
    """

    def __init__(self, campaign_id: str, state: str, event: str) -> None:
        super().__init__(f"campaign {campaign_id}: cannot {event} a campaign that is {state}")
        self.campaign_id = campaign_id
        self.state = state
        self.event = event


class ApprovalError(CampaignError):
    """Approval refused: same operator, over-length messages, or lint errors not overridden.

    Args:
        message: Why.
        campaign_id: The campaign concerned.
    """

    def __init__(self, message: str, *, campaign_id: str) -> None:
        super().__init__(f"campaign {campaign_id}: {message}")
        self.campaign_id = campaign_id


class NotApprovedError(CampaignError):
    """A send was asked for a campaign that no second operator has approved.

    Args:
        campaign_id: The campaign concerned.
        state: Its state.
    """

    def __init__(self, campaign_id: str, state: str) -> None:
        super().__init__(
            f"campaign {campaign_id} is {state}, not approved: nothing was sent. A different "
            f"operator must approve it first (smsh campaign approve {campaign_id} --by NAME)"
        )
        self.campaign_id = campaign_id
        self.state = state


class OwnerCheckRequired(CampaignError):
    """Rows carry the date their number was obtained but no owner-check client is configured.

    Args:
        campaign_id: The campaign concerned.
        rows: How many rows need the check.
    """

    def __init__(self, campaign_id: str, rows: int) -> None:
        super().__init__(
            f"campaign {campaign_id}: {rows} recipients have an obtained date and must pass the "
            "owner check (他人接続判定) before sending, but no owner-check URL is configured "
            "(set owner_check.url, or owner_check.required: false to send unchecked)"
        )
        self.campaign_id = campaign_id
        self.rows = rows


class ScheduleError(CampaignError, ValueError):
    """A schedule is malformed (day out of range, no steps, bad time)."""


#: Everything a campaign operation raises on purpose: catch this at an edge (``except
#: CAMPAIGN_ERRORS``) rather than `CampaignError` alone, which misses the two errors re-exported
#: from `gateway.errors`.
CAMPAIGN_ERRORS: Final[tuple[type[GatewayError], ...]] = (
    CampaignError,
    OwnerCheckError,
    QuietHoursError,
)
