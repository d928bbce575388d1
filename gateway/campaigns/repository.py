"""Durable campaign records: SQLite tables beside the gateway's message store.

Where: the campaign tables live in the **same SQLite file** as `gateway.store.MessageStore`
(one ``--db`` for the operator, one file to back up), under their own names (``campaign*``),
written through this module's **own connection**. WAL mode lets that connection and the
store's writer thread coexist: each write here is one short ``BEGIN IMMEDIATE`` transaction,
and ``busy_timeout`` makes it wait for the store's group commit instead of failing. The
store's schema version (``PRAGMA user_version``) is the store's: this module never touches it
and keeps its own in ``campaign_meta``. The store's tables are never read or written here
(status comes through the store's public API, see `gateway.campaigns.report`).

Tables::

    campaign_meta      key/value (schema_version)
    campaigns          one row per campaign: state, operators and times, template and config
                       snapshots (JSON), the field map, the import summary
    campaign_rows      one row per CSV data row: line, status, number, typed values (JSON),
                       owner-check result, paid mark
    campaign_problems  the validation report: line, code, field, column, value, detail
    campaign_events    audit log: created / approved (with the lint override reason) /
                       send / paid / cancelled, with operator and time
    campaign_sends     one row per (recipient line, schedule slot): pending -> submitted, or
                       excluded / skipped / error / in_doubt, with the gateway message id

Invariants:
    * State changes are compare-and-set (``UPDATE ... WHERE state = expected``): two operators
      racing to approve or send cannot both win.
    * A (line, slot) send row is written *before* the message is handed to the gateway
      (status ``pending``) and completed after; a ``pending`` row found later means the
      hand-off's outcome is unknown (a crash), and the runner reconciles it by client_ref
      instead of sending again.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from gateway.campaigns.csvimport import ImportedRow, RowProblem, RowStatus
from gateway.campaigns.errors import CampaignError, IllegalCampaignTransition, UnknownCampaign
from gateway.campaigns.state import CampaignState
from gateway.campaigns.values import to_json

__all__ = [
    "SCHEMA_VERSION",
    "CampaignEventRecord",
    "CampaignRecord",
    "CampaignRepository",
    "RowRecord",
    "SendRecord",
    "SendStatus",
]

SCHEMA_VERSION: Final[int] = 1

_SCHEMA: Final[tuple[str, ...]] = (
    "CREATE TABLE IF NOT EXISTS campaign_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS campaigns (
        id              TEXT PRIMARY KEY,
        seq             INTEGER NOT NULL UNIQUE,
        name            TEXT NOT NULL,
        state           TEXT NOT NULL,
        created_by      TEXT NOT NULL,
        created_at      REAL NOT NULL,
        approved_by     TEXT,
        approved_at     REAL,
        override_reason TEXT,
        updated_at      REAL NOT NULL,
        source_file     TEXT NOT NULL,
        encoding        TEXT NOT NULL,
        template        TEXT NOT NULL,
        config          TEXT NOT NULL,
        fields          TEXT NOT NULL,
        summary         TEXT NOT NULL,
        send_at         REAL
    )""",
    """CREATE TABLE IF NOT EXISTS campaign_rows (
        campaign_id       TEXT NOT NULL REFERENCES campaigns (id),
        line              INTEGER NOT NULL,
        status            TEXT NOT NULL,
        reason            TEXT,
        phone_raw         TEXT NOT NULL,
        e164              TEXT,
        duplicate_of      INTEGER,
        vals              TEXT NOT NULL,
        owner_status      TEXT,
        owner_last_change TEXT,
        owner_checked_at  REAL,
        paid_at           REAL,
        paid_by           TEXT,
        PRIMARY KEY (campaign_id, line)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS idx_campaign_rows_e164 ON campaign_rows (campaign_id, e164)",
    """CREATE TABLE IF NOT EXISTS campaign_problems (
        id          INTEGER PRIMARY KEY,
        campaign_id TEXT NOT NULL REFERENCES campaigns (id),
        line        INTEGER NOT NULL,
        code        TEXT NOT NULL,
        field       TEXT NOT NULL,
        col         TEXT NOT NULL,
        value       TEXT NOT NULL,
        detail      TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS idx_campaign_problems ON campaign_problems (campaign_id, line)",
    """CREATE TABLE IF NOT EXISTS campaign_events (
        id          INTEGER PRIMARY KEY,
        campaign_id TEXT NOT NULL REFERENCES campaigns (id),
        at          REAL NOT NULL,
        operator    TEXT,
        event       TEXT NOT NULL,
        detail      TEXT NOT NULL DEFAULT ''
    )""",
    "CREATE INDEX IF NOT EXISTS idx_campaign_events ON campaign_events (campaign_id, id)",
    """CREATE TABLE IF NOT EXISTS campaign_sends (
        campaign_id    TEXT NOT NULL REFERENCES campaigns (id),
        line           INTEGER NOT NULL,
        slot           TEXT NOT NULL,
        status         TEXT NOT NULL,
        reason         TEXT,
        planned_at     REAL,
        at             REAL NOT NULL,
        client_ref     TEXT,
        message_id     INTEGER,
        not_before     REAL,
        validity_until REAL,
        deferred       INTEGER NOT NULL DEFAULT 0,
        units          INTEGER NOT NULL DEFAULT 0,
        chars          INTEGER NOT NULL DEFAULT 0,
        parts          INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (campaign_id, line, slot)
    ) WITHOUT ROWID""",
)


class SendStatus:
    """Values of ``campaign_sends.status`` (plain strings: they are stored)."""

    PENDING: Final = "pending"
    """Written before the hand-off; outcome unknown until completed."""
    SUBMITTED: Final = "submitted"
    """Handed to the gateway; ``message_id`` set."""
    EXCLUDED: Final = "excluded"
    """Not sent on purpose (owner changed, no_data held, suppressed, paid, replied)."""
    SKIPPED: Final = "skipped"
    """Superseded by a later slot (catch-up rule)."""
    ERROR: Final = "error"
    """The hand-off raised; ``reason`` says what."""
    IN_DOUBT: Final = "in_doubt"
    """Found pending after a crash and not found in the gateway: not resent."""


@dataclass(frozen=True, slots=True)
class CampaignRecord:
    """A stored campaign."""

    id: str
    """``cmp-N``."""
    name: str
    """Operator-given name."""
    state: CampaignState
    """Lifecycle state."""
    created_by: str
    """Operator who created it."""
    created_at: float
    """Creation time (epoch s)."""
    approved_by: str | None
    """Operator who approved it."""
    approved_at: float | None
    """Approval time."""
    override_reason: str | None
    """Written reason given to approve despite lint errors."""
    updated_at: float
    """Last state change."""
    source_file: str
    """CSV file name."""
    encoding: str
    """CSV codec used."""
    template: dict[str, Any]
    """Template spec snapshot (JSON)."""
    config: dict[str, Any]
    """Campaign config snapshot (JSON)."""
    fields: dict[str, Any]
    """Field map snapshot: ``columns``, ``headers``, ``types``."""
    summary: dict[str, Any]
    """Import summary (row counts)."""
    send_at: float | None
    """Once schedule: the time given with ``send --at``."""


@dataclass(frozen=True, slots=True)
class RowRecord:
    """A stored CSV data row."""

    line: int
    """Physical line."""
    status: RowStatus
    """Import outcome."""
    reason: str | None
    """Invalid / duplicate / filtered reason."""
    phone_raw: str
    """Phone cell as written."""
    e164: str | None
    """Normalised number."""
    duplicate_of: int | None
    """Line duplicated."""
    values: dict[str, Any]
    """Field values as JSON (dates as ISO strings)."""
    owner_status: str | None
    """Last owner-check answer."""
    owner_last_change: str | None
    """Last change date reported by the owner check."""
    owner_checked_at: float | None
    """When the owner check answered."""
    paid_at: float | None
    """Marked paid at."""
    paid_by: str | None
    """Marked paid by."""


@dataclass(frozen=True, slots=True)
class SendRecord:
    """A stored (recipient, slot) outcome."""

    line: int
    """Recipient's CSV line."""
    slot: str
    """Schedule slot key."""
    status: str
    """A `SendStatus` value."""
    reason: str | None
    """Why excluded / skipped / error."""
    planned_at: float | None
    """When the schedule planned it."""
    at: float
    """When this record was written or last completed."""
    client_ref: str | None
    """Reference given to the gateway."""
    message_id: int | None
    """Gateway message id."""
    not_before: float | None
    """Earliest hand-off to the carrier."""
    validity_until: float | None
    """Validity end."""
    deferred: bool
    """Quiet hours moved it."""
    units: int
    """Billing units."""
    chars: int
    """Characters."""
    parts: int
    """Parts."""


@dataclass(frozen=True, slots=True)
class CampaignEventRecord:
    """An audit-log entry."""

    at: float
    """When."""
    operator: str | None
    """Who (None for automatic events)."""
    event: str
    """``created``, ``approved``, ``lint_override``, ``send``, ``paid``, ``cancelled`` ..."""
    detail: str
    """Free text."""


_CAMPAIGN_COLUMNS: Final = (
    "id, name, state, created_by, created_at, approved_by, approved_at, override_reason,"
    " updated_at, source_file, encoding, template, config, fields, summary, send_at"
)
_ROW_COLUMNS: Final = (
    "line, status, reason, phone_raw, e164, duplicate_of, vals, owner_status,"
    " owner_last_change, owner_checked_at, paid_at, paid_by"
)
_SEND_COLUMNS: Final = (
    "line, slot, status, reason, planned_at, at, client_ref, message_id, not_before,"
    " validity_until, deferred, units, chars, parts"
)


def _campaign(r: Sequence[Any]) -> CampaignRecord:
    return CampaignRecord(
        r[0],
        r[1],
        CampaignState(r[2]),
        r[3],
        r[4],
        r[5],
        r[6],
        r[7],
        r[8],
        r[9],
        r[10],
        json.loads(r[11]),
        json.loads(r[12]),
        json.loads(r[13]),
        json.loads(r[14]),
        r[15],
    )


def _row(r: Sequence[Any], with_values: bool = True) -> RowRecord:
    return RowRecord(
        line=r[0],
        status=RowStatus(r[1]),
        reason=r[2],
        phone_raw=r[3],
        e164=r[4],
        duplicate_of=r[5],
        values=json.loads(r[6]) if with_values else {},
        owner_status=r[7],
        owner_last_change=r[8],
        owner_checked_at=r[9],
        paid_at=r[10],
        paid_by=r[11],
    )


def _send(r: Sequence[Any]) -> SendRecord:
    return SendRecord(
        line=r[0],
        slot=r[1],
        status=r[2],
        reason=r[3],
        planned_at=r[4],
        at=r[5],
        client_ref=r[6],
        message_id=r[7],
        not_before=r[8],
        validity_until=r[9],
        deferred=bool(r[10]),
        units=r[11],
        chars=r[12],
        parts=r[13],
    )


class CampaignRepository:
    """Campaign tables in a SQLite file (see the module docstring).

    Args:
        path: The database file (normally the gateway store's file).
        busy_timeout: Seconds to wait for a lock held by another writer.

    Raises:
        CampaignError: The file cannot be opened or has a newer campaign schema.
    """

    def __init__(self, path: str | Path, *, busy_timeout: float = 30.0) -> None:
        self.path = str(path)
        try:
            self._conn = sqlite3.connect(
                self.path, isolation_level=None, timeout=busy_timeout, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            with self._tx() as conn:
                for statement in _SCHEMA:
                    conn.execute(statement)
                row = conn.execute(
                    "SELECT value FROM campaign_meta WHERE key = 'schema_version'"
                ).fetchone()
                if row is None:
                    conn.execute(
                        "INSERT INTO campaign_meta (key, value) VALUES ('schema_version', ?)",
                        (str(SCHEMA_VERSION),),
                    )
                elif int(row[0]) != SCHEMA_VERSION:
                    raise CampaignError(
                        f"{self.path}: campaign schema version {row[0]}, expected {SCHEMA_VERSION}"
                    )
        except sqlite3.Error as exc:
            raise CampaignError(f"cannot open campaign tables in {self.path}: {exc}") from exc

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._conn.close()

    def __enter__(self) -> CampaignRepository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # -- campaigns -------------------------------------------------------------------------

    def create(
        self,
        *,
        name: str,
        created_by: str,
        now: float,
        source_file: str,
        encoding: str,
        template: Mapping[str, Any],
        config: Mapping[str, Any],
        fields: Mapping[str, Any],
        summary: Mapping[str, Any],
        rows: Sequence[ImportedRow],
        problems: Sequence[RowProblem],
    ) -> str:
        """Store a new draft campaign with its rows and validation report.

        Returns:
            The new campaign id (``cmp-N``).
        """
        with self._tx() as conn:
            seq = int(conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM campaigns").fetchone()[0])
            cid = f"cmp-{seq}"
            conn.execute(
                f"INSERT INTO campaigns ({_CAMPAIGN_COLUMNS}, seq) VALUES"
                " (?, ?, ?, ?, ?, NULL, NULL, NULL, ?, ?, ?, ?, ?, ?, ?, NULL, ?)",
                (
                    cid,
                    name,
                    CampaignState.DRAFT.value,
                    created_by,
                    now,
                    now,
                    source_file,
                    encoding,
                    json.dumps(template, ensure_ascii=False),
                    json.dumps(config, ensure_ascii=False, default=str),
                    json.dumps(fields, ensure_ascii=False),
                    json.dumps(summary, ensure_ascii=False),
                    seq,
                ),
            )
            conn.executemany(
                "INSERT INTO campaign_rows (campaign_id, line, status, reason, phone_raw, e164,"
                " duplicate_of, vals) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        cid,
                        r.line,
                        r.status.value,
                        r.reason,
                        r.phone_raw,
                        r.e164,
                        r.duplicate_of,
                        json.dumps(
                            {k: to_json(v) for k, v in r.values.items()}, ensure_ascii=False
                        ),
                    )
                    for r in rows
                ],
            )
            conn.executemany(
                "INSERT INTO campaign_problems (campaign_id, line, code, field, col, value,"
                " detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(cid, p.line, p.code, p.field, p.column, p.value, p.detail) for p in problems],
            )
            conn.execute(
                "INSERT INTO campaign_events (campaign_id, at, operator, event, detail)"
                " VALUES (?, ?, ?, 'created', ?)",
                (cid, now, created_by, f"{len(rows)} rows from {source_file} ({encoding})"),
            )
        return cid

    def resolve_id(self, text: str) -> str:
        """Accept ``cmp-7`` or ``7``.

        Raises:
            UnknownCampaign: No such campaign.
        """
        cid = f"cmp-{text}" if text.isdigit() else text
        if self._conn.execute("SELECT 1 FROM campaigns WHERE id = ?", (cid,)).fetchone() is None:
            raise UnknownCampaign(text)
        return cid

    def get(self, campaign_id: str) -> CampaignRecord:
        """One campaign.

        Raises:
            UnknownCampaign: No such campaign.
        """
        row = self._conn.execute(
            f"SELECT {_CAMPAIGN_COLUMNS} FROM campaigns WHERE id = ?", (campaign_id,)
        ).fetchone()
        if row is None:
            raise UnknownCampaign(campaign_id)
        return _campaign(row)

    def list_campaigns(self) -> list[CampaignRecord]:
        """Every campaign, oldest first."""
        rows = self._conn.execute(f"SELECT {_CAMPAIGN_COLUMNS} FROM campaigns ORDER BY seq")
        return [_campaign(r) for r in rows]

    def transition(
        self,
        campaign_id: str,
        expected: CampaignState,
        new: CampaignState,
        now: float,
        *,
        operator: str | None = None,
        event: str,
        detail: str = "",
        approved_by: str | None = None,
        override_reason: str | None = None,
    ) -> None:
        """Compare-and-set the state, and log the event, in one transaction.

        Raises:
            IllegalCampaignTransition: The campaign is no longer in `expected` (someone else
                changed it in between).
        """
        with self._tx() as conn:
            if approved_by is not None:
                cur = conn.execute(
                    "UPDATE campaigns SET state = ?, updated_at = ?, approved_by = ?,"
                    " approved_at = ?, override_reason = ? WHERE id = ? AND state = ?",
                    (
                        new.value,
                        now,
                        approved_by,
                        now,
                        override_reason,
                        campaign_id,
                        expected.value,
                    ),
                )
            else:
                cur = conn.execute(
                    "UPDATE campaigns SET state = ?, updated_at = ? WHERE id = ? AND state = ?",
                    (new.value, now, campaign_id, expected.value),
                )
            if cur.rowcount != 1:
                current = conn.execute(
                    "SELECT state FROM campaigns WHERE id = ?", (campaign_id,)
                ).fetchone()
                if current is None:
                    raise UnknownCampaign(campaign_id)
                raise IllegalCampaignTransition(campaign_id, current[0], event)
            conn.execute(
                "INSERT INTO campaign_events (campaign_id, at, operator, event, detail)"
                " VALUES (?, ?, ?, ?, ?)",
                (campaign_id, now, operator, event, detail),
            )

    def set_send_at(self, campaign_id: str, send_at: float | None, now: float) -> None:
        """Store the once-schedule time given with ``send --at``."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE campaigns SET send_at = ?, updated_at = ? WHERE id = ?",
                (send_at, now, campaign_id),
            )

    def log(
        self,
        campaign_id: str,
        now: float,
        event: str,
        detail: str = "",
        *,
        operator: str | None = None,
    ) -> None:
        """Append an audit-log entry."""
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO campaign_events (campaign_id, at, operator, event, detail)"
                " VALUES (?, ?, ?, ?, ?)",
                (campaign_id, now, operator, event, detail),
            )

    def events(self, campaign_id: str) -> list[CampaignEventRecord]:
        """The audit log, oldest first."""
        rows = self._conn.execute(
            "SELECT at, operator, event, detail FROM campaign_events WHERE campaign_id = ?"
            " ORDER BY id",
            (campaign_id,),
        )
        return [CampaignEventRecord(*r) for r in rows]

    # -- rows --------------------------------------------------------------------------------

    def rows(
        self, campaign_id: str, status: RowStatus | None = None, *, with_values: bool = True
    ) -> list[RowRecord]:
        """Stored rows in line order, optionally only one status.

        Args:
            campaign_id: The campaign.
            status: Only rows with this status.
            with_values: Decode the field values (False: ``values`` is empty; for counts,
                which do not need them, at about half the cost).
        """
        sql = f"SELECT {_ROW_COLUMNS} FROM campaign_rows WHERE campaign_id = ?"
        args: list[Any] = [campaign_id]
        if status is not None:
            sql += " AND status = ?"
            args.append(status.value)
        return [_row(r, with_values) for r in self._conn.execute(sql + " ORDER BY line", args)]

    def problems(self, campaign_id: str, limit: int | None = None) -> list[RowProblem]:
        """The validation report's problems in line order."""
        sql = (
            "SELECT line, code, field, col, value, detail FROM campaign_problems"
            " WHERE campaign_id = ? ORDER BY line, id"
        )
        args: list[Any] = [campaign_id]
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [RowProblem(*r) for r in self._conn.execute(sql, args)]

    def set_owner_results(
        self, campaign_id: str, results: Iterable[tuple[int, str, str | None]], now: float
    ) -> None:
        """Store owner-check answers as (line, status, last change date ISO or None)."""
        with self._tx() as conn:
            conn.executemany(
                "UPDATE campaign_rows SET owner_status = ?, owner_last_change = ?,"
                " owner_checked_at = ? WHERE campaign_id = ? AND line = ?",
                [(status, change, now, campaign_id, line) for line, status, change in results],
            )

    def mark_paid(self, campaign_id: str, e164: str, now: float, by: str | None) -> list[int]:
        """Mark every OK row with this number paid.

        Returns:
            The lines marked (empty when the number is not a recipient of the campaign).
        """
        with self._tx() as conn:
            lines = [
                int(r[0])
                for r in conn.execute(
                    "SELECT line FROM campaign_rows WHERE campaign_id = ? AND e164 = ?"
                    " AND status = 'ok'",
                    (campaign_id, e164),
                )
            ]
            conn.executemany(
                "UPDATE campaign_rows SET paid_at = ?, paid_by = ? WHERE campaign_id = ?"
                " AND line = ? AND paid_at IS NULL",
                [(now, by, campaign_id, line) for line in lines],
            )
            if lines:
                conn.execute(
                    "INSERT INTO campaign_events (campaign_id, at, operator, event, detail)"
                    " VALUES (?, ?, ?, 'paid', ?)",
                    (campaign_id, now, by, f"{e164} (line {', '.join(map(str, lines))})"),
                )
        return lines

    # -- sends --------------------------------------------------------------------------------

    def sends(self, campaign_id: str) -> list[SendRecord]:
        """Every (line, slot) record of the campaign."""
        rows = self._conn.execute(
            f"SELECT {_SEND_COLUMNS} FROM campaign_sends WHERE campaign_id = ?"
            " ORDER BY line, planned_at, slot",
            (campaign_id,),
        )
        return [_send(r) for r in rows]

    def claim_sends(self, campaign_id: str, records: Sequence[SendRecord]) -> set[tuple[int, str]]:
        """Write (line, slot) records unless already decided; return the pairs written.

        A pair with no record, or whose record is ``error`` (a failed hand-off, retried), takes
        the new record. Any other existing record wins: the pair was already submitted,
        excluded, skipped or is in doubt. One transaction, so two concurrent senders never
        both claim a pair.

        Returns:
            The (line, slot) pairs this call wrote.
        """
        claimed: set[tuple[int, str]] = set()
        if not records:
            return claimed
        with self._tx() as conn:
            for r in records:
                row = conn.execute(
                    f"INSERT INTO campaign_sends (campaign_id, {_SEND_COLUMNS})"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (campaign_id, line, slot) DO UPDATE SET"
                    " status = excluded.status, reason = excluded.reason,"
                    " planned_at = excluded.planned_at, at = excluded.at,"
                    " client_ref = excluded.client_ref, message_id = excluded.message_id,"
                    " not_before = excluded.not_before, validity_until = excluded.validity_until,"
                    " deferred = excluded.deferred, units = excluded.units,"
                    " chars = excluded.chars, parts = excluded.parts"
                    " WHERE campaign_sends.status = 'error' RETURNING line, slot",
                    (
                        campaign_id,
                        r.line,
                        r.slot,
                        r.status,
                        r.reason,
                        r.planned_at,
                        r.at,
                        r.client_ref,
                        r.message_id,
                        r.not_before,
                        r.validity_until,
                        int(r.deferred),
                        r.units,
                        r.chars,
                        r.parts,
                    ),
                ).fetchone()
                if row is not None:
                    claimed.add((int(row[0]), str(row[1])))
        return claimed

    def complete_sends(
        self,
        campaign_id: str,
        outcomes: Sequence[tuple[int, str, str, int | None, str | None]],
        now: float,
    ) -> None:
        """Complete pending records: (line, slot, status, message id, reason)."""
        if not outcomes:
            return
        with self._tx() as conn:
            conn.executemany(
                "UPDATE campaign_sends SET status = ?, message_id = ?, reason = ?, at = ?"
                " WHERE campaign_id = ? AND line = ? AND slot = ?",
                [
                    (status, message_id, reason, now, campaign_id, line, slot)
                    for line, slot, status, message_id, reason in outcomes
                ],
            )
