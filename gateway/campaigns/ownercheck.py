"""The owner check (他人接続判定) for campaigns: a re-export of `gateway.ownercheck`, its home.

The client protocol, the HTTP client of the bulk API (``POST /v1/owner-check/bulk``) and the
in-memory fake moved to the gateway core, which also applies the check to single submits
(`GatewayConfig.owner_check`); see `gateway.ownercheck` for the API contract. This module only
keeps the old import path working:
``gateway.campaigns.ownercheck.HttpOwnerCheckClient is gateway.ownercheck.HttpOwnerCheckClient``.

Invariants:
    * No code of its own: every name is the very object of `gateway.ownercheck`, and failures
      raise `gateway.errors.OwnerCheckError` (re-exported by `gateway.campaigns.errors`); the
      campaign runner then sends nothing (fail closed).
"""

from __future__ import annotations

from gateway.ownercheck import (
    BULK_PATH,
    FakeOwnerCheckClient,
    HttpOwnerCheckClient,
    NoDataPolicy,
    OwnerCheckClient,
    OwnerResult,
    OwnerStatus,
)

__all__ = [
    "BULK_PATH",
    "FakeOwnerCheckClient",
    "HttpOwnerCheckClient",
    "NoDataPolicy",
    "OwnerCheckClient",
    "OwnerResult",
    "OwnerStatus",
]
