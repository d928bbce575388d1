"""Fixtures for the campaign tests: a store + campaign tables on one fresh file, and builders."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.campaigns.config import CampaignConfig, TemplateSpec
from gateway.campaigns.ownercheck import FakeOwnerCheckClient
from gateway.campaigns.quiet import JST
from gateway.campaigns.repository import CampaignRepository
from gateway.campaigns.runner import CampaignRunner
from gateway.store import MessageStore

#: Sample files shipped with the tests.
DATA = Path(__file__).resolve().parents[2] / "data" / "campaigns"

#: A calm first notice with everything the lint wants.
GOOD_BODY = (
    "{name}様 ○○不動産です。{due_date:%-m月%-d日}が期日の家賃{amount:,}円のお支払いが"
    "確認できておりません。お問い合わせ 03-1234-5678"
)


def jst(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    """Epoch seconds of a JST wall-clock time."""
    return datetime(year, month, day, hour, minute, tzinfo=JST).timestamp()


def template(body: str = GOOD_BODY, **front: Any) -> TemplateSpec:
    """A template spec (registered numeric sender, jp-docomo, first notice) unless overridden."""
    data: dict[str, Any] = {"sender": "0005012345", "source": "t.txt", "body": body}
    data.update(front)
    return TemplateSpec.model_validate(data)


def config(**fields: Any) -> CampaignConfig:
    """A config whose lint knows the test sender."""
    data: dict[str, Any] = {"lint": {"registered_senders": ["0005012345"]}}
    data.update(fields)
    return CampaignConfig.model_validate(data)


def csv_bytes(rows: list[list[str]], *, header: list[str] | None = None) -> bytes:
    """A UTF-8 CSV (quoted cells) from rows."""
    head = header or ["phone", "name", "amount", "due_date"]
    lines = [",".join(head)]
    for row in rows:
        lines.append(",".join('"' + c.replace('"', '""') + '"' for c in row))
    return ("\n".join(lines) + "\n").encode("utf-8")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A database file that does not exist yet."""
    return tmp_path / "smsh.sqlite3"


@pytest.fixture
def store(db_path: Path) -> Iterator[MessageStore]:
    """The gateway store on the file."""
    s = MessageStore(db_path, synchronous="NORMAL")
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def repo(db_path: Path, store: MessageStore) -> Iterator[CampaignRepository]:
    """Campaign tables in the same file as the store."""
    del store
    r = CampaignRepository(db_path)
    try:
        yield r
    finally:
        r.close()


@pytest.fixture
def owner() -> FakeOwnerCheckClient:
    """An owner check that knows no changes."""
    return FakeOwnerCheckClient()


@pytest.fixture
def runner(
    repo: CampaignRepository, store: MessageStore, owner: FakeOwnerCheckClient
) -> CampaignRunner:
    """A runner over the store, with the fake owner check."""
    return CampaignRunner(repo, store=store, owner_check=owner, concurrency=50)
