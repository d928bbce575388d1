"""10,000 rows with planted faults go through create -> preview -> approve -> send into a real
`MessageStore`; the report's counts must equal what was planted, exactly.

Planted (seeded): 3% malformed numbers (four rejection reasons), 2% duplicates of earlier rows
written differently (+81, full width, hyphens), 1% numbers the owner check reports as
reassigned after the date we obtained them, and 0.5% rows whose memo cell spans two physical
lines (so line numbers in the report must be physical, not record counts). After the send,
the test plays the gateway for some messages (claim, ESME_ROK, receipts, replies) and checks
that the report reads those states back from the store.
"""

from __future__ import annotations

import asyncio
import codecs
import random
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from gateway.campaigns import (
    CampaignConfig,
    CampaignRepository,
    CampaignRunner,
    FakeOwnerCheckClient,
    StoreSubmitter,
    build_report,
    parse_template_text,
)
from gateway.campaigns.csvimport import RowStatus
from gateway.campaigns.quiet import JST
from gateway.store import MessageState, MessageStore
from sms.clock import ManualClock

N_ROWS = 10_000
N_MALFORMED = {"too_short": 100, "landline": 100, "leading_zero_lost": 50, "non_digit": 50}
N_DUPLICATES = 200
N_REASSIGNED = 100
N_MULTILINE = 50
OBTAINED = date(2020, 4, 1)

TEMPLATE = """---
sender: "0005012345"
profile: jp-docomo
stage: first_notice
---
{name}様 ○○カードです。{due_date:%-m月%-d日}にお引き落としできなかった{amount:,}円の\
お振込みをお願いします。お問い合わせ 0120-123-456"""


@dataclass
class Planted:
    csv: bytes
    malformed_lines: dict[int, str]
    duplicate_lines: dict[int, int]
    reassigned: dict[str, date]
    valid_lines: list[int]
    recipients: list[str]
    """E.164 numbers of the valid (non-duplicate) rows, in line order."""


def _malformed(kind: str, rng: random.Random) -> str:
    n = rng.randrange(10_000_000, 100_000_000)
    if kind == "too_short":
        return f"090-{n // 10000:04d}-{n % 1000:03d}"
    if kind == "landline":
        return f"03-{n // 10000:04d}-{n % 10000:04d}"
    if kind == "leading_zero_lost":
        return f"90{n}"
    return f"090-{n // 10000:04d}-{n % 1000:03d}x"


def _spelling(e164: str, rng: random.Random) -> str:
    national = "0" + e164[3:]
    return rng.choice(
        [
            f"{national[:3]}-{national[3:7]}-{national[7:]}",
            f"+81 {national[1:3]} {national[3:7]} {national[7:]}",
            national.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
        ]
    )


def plant(seed: int) -> Planted:
    rng = random.Random(seed)
    n_valid = N_ROWS - sum(N_MALFORMED.values()) - N_DUPLICATES
    numbers = [f"+8190{n}" for n in rng.sample(range(10_000_000, 100_000_000), n_valid)]
    primaries: list[tuple[str, str | None, str]] = []  # (phone cell, e164 or None, kind)
    primaries += [(_spelling(e, rng), e, "valid") for e in numbers]
    for kind, count in N_MALFORMED.items():
        primaries += [(_malformed(kind, rng), None, kind) for _ in range(count)]
    rng.shuffle(primaries)
    keyed: list[tuple[float, str, str | None, str]] = [
        (float(i), cell, e164, kind) for i, (cell, e164, kind) in enumerate(primaries)
    ]
    originals = rng.sample([k for k in keyed if k[2] is not None], N_DUPLICATES)
    for key, _, e164, _ in originals:
        assert e164 is not None
        keyed.append((rng.uniform(key + 0.1, len(primaries)), _spelling(e164, rng), e164, "dup"))
    keyed.sort()
    assert len(keyed) == N_ROWS
    reassigned = {
        e: date(2023, rng.randrange(1, 13), rng.randrange(1, 29))
        for e in rng.sample(numbers, N_REASSIGNED)
    }
    multiline = set(rng.sample(range(N_ROWS), N_MULTILINE))

    lines = ["電話番号,氏名,金額,支払期日,番号取得日,メモ"]
    line = 2
    first_line: dict[str, int] = {}
    malformed_lines: dict[int, str] = {}
    duplicate_lines: dict[int, int] = {}
    valid_lines: list[int] = []
    recipients: list[str] = []
    for i, (_, cell, e164, kind) in enumerate(keyed):
        memo = "1行目\n2行目" if i in multiline else ""
        amount = rng.randrange(1, 200) * 1000
        lines.append(f'{cell},顧客{i:05d},"{amount:,}",2026/05/27,{OBTAINED.isoformat()},"{memo}"')
        if kind == "dup":
            assert e164 is not None
            duplicate_lines[line] = first_line[e164]
        elif e164 is None:
            malformed_lines[line] = kind
        else:
            first_line[e164] = line
            valid_lines.append(line)
            recipients.append(e164)
        line += 2 if memo else 1
    data = codecs.BOM_UTF8 + ("\r\n".join(lines) + "\r\n").encode("utf-8")
    return Planted(data, malformed_lines, duplicate_lines, reassigned, valid_lines, recipients)


@pytest.mark.timeout(60)
def test_planted_faults_are_counted_exactly(tmp_path: Path) -> None:
    planted = plant(20261124)
    db = tmp_path / "smsh.sqlite3"
    now = datetime(2026, 5, 27, 10, 0, tzinfo=JST).timestamp()
    with MessageStore(db, synchronous="NORMAL") as store, CampaignRepository(db) as repo:
        owner = FakeOwnerCheckClient(planted.reassigned)
        runner = CampaignRunner(repo, store=store, owner_check=owner, concurrency=500)
        config = CampaignConfig.model_validate({"lint": {"registered_senders": ["0005012345"]}})

        # 1. create: the validation report names every planted fault by its physical line.
        created = runner.create(
            csv_data=planted.csv,
            csv_path="cards.csv",
            template=parse_template_text(TEMPLATE, source="notice.txt"),
            config=config,
            created_by="alice",
            now=now,
        )
        cid = created.campaign_id
        result = created.result
        assert result.table.encoding == "utf-8-sig"
        invalid = {p.line: p.code for p in result.problems if p.code != "duplicate"}
        assert invalid == planted.malformed_lines
        dups = {r.line: r.duplicate_of for r in result.rows if r.status is RowStatus.DUPLICATE}
        assert dups == planted.duplicate_lines
        assert [r.line for r in result.rows if r.status is RowStatus.OK] == planted.valid_lines
        assert sum(store.counts().values()) == 0

        # 2. preview: every recipient priced, nothing too long, lint clean.
        preview = runner.preview(cid)
        assert preview.recipients == len(planted.valid_lines) == 9500
        assert preview.overlength == []
        assert preview.findings == []

        # 3. approve (a second operator), 4. send through the store.
        runner.approve(cid, by="bob", now=now + 60)
        sent = asyncio.run(runner.send(cid, StoreSubmitter(store, ManualClock(now)), now + 120))
        assert sent.excluded == {"owner_changed": N_REASSIGNED}
        assert sent.handed_over == 9400
        assert sent.owner_checked == 9500
        assert not sent.errors

        # Play the gateway for 300 messages: claim, ESME_ROK, receipts; 25 replies.
        claimed = store.claim(now + 180, N_ROWS).messages
        assert len(claimed) == 9400
        outcomes = ["DELIVRD"] * 200 + ["UNDELIV"] * 60 + ["EXPIRED"] * 40
        for message, stat in zip(claimed, outcomes, strict=False):
            for seq in message.pending_parts:
                smsc_id = f"{message.id:x}-{seq}"
                store.record_part_submit(message.id, seq, now + 181)
                store.record_resp(
                    message.id, seq, now + 182, command_status=0, smsc_message_id=smsc_id
                )
                store.record_receipt(smsc_id, stat, now + 190)
        for message in claimed[:25]:
            store.record_mo(message.destination, "0005012345", "支払いました", now + 300)

        # 5. report: the planted counts, exactly.
        report = build_report(repo, store, cid)
        assert report.rows == N_ROWS
        assert report.invalid == dict(sorted(N_MALFORMED.items(), key=lambda kv: (-kv[1], kv[0])))
        assert report.duplicates == N_DUPLICATES
        assert report.filtered == 0
        assert report.recipients == 9500
        assert report.excluded == {"owner_changed": N_REASSIGNED}
        assert report.sent == 9400
        assert report.deferred == 0
        assert report.state_count(MessageState.DELIVERED) == 200
        assert report.state_count(MessageState.FAILED) == 60
        assert report.state_count(MessageState.EXPIRED) == 40
        assert report.state_count(MessageState.SUBMITTING) == 9400 - 300
        assert report.replied == 25
        units = sum(m.units for m in preview.messages if m.e164 not in planted.reassigned)
        assert report.units == units
        assert report.cost == units * Decimal(3)
        assert report.rows == report.filtered + report.invalid_total + report.duplicates + (
            report.recipients
        )
        states = Counter(m.state for m in store.list_messages(campaign_id=cid, limit=N_ROWS))
        assert sum(states.values()) == 9400
