"""simulator.accounts: token bucket, lockout, and the order of the bind checks (rows 8-10)."""

from __future__ import annotations

import pytest

from simulator.accounts import AccountBook, Lockout, TokenBucket
from simulator.config import LockoutConfig, config_from_mapping
from simulator.smpp.constants import CommandStatus as S


def book(**overrides: object) -> AccountBook:
    document: dict[str, object] = {
        "accounts": [
            {
                "system_id": "acme",
                "password": "secret",
                "bind_modes": ["transmitter", "transceiver"],
                "max_binds": 2,
                "allow_from": ["127.0.0.0/8", "::1/128"],
            }
        ],
        "lockout": {"max_failures": 3, "window_s": 10, "lockout_s": 30},
    }
    document.update(overrides)
    return AccountBook(config_from_mapping(document))


def test_token_bucket_refills_at_its_rate() -> None:
    bucket = TokenBucket(10.0, 2, now=0.0)
    assert bucket.take(0.0)
    assert bucket.take(0.0)
    assert not bucket.take(0.0)
    assert not bucket.take(0.05)  # half a token
    assert bucket.take(0.1)
    assert not bucket.take(0.1)
    assert bucket.take(10.0)
    assert bucket.take(10.0)
    assert not bucket.take(10.0)


def test_token_bucket_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(0)


def test_lockout_after_failures_within_the_window() -> None:
    lockout = Lockout(LockoutConfig(max_failures=3, window_s=10, lockout_s=30))
    assert not lockout.record_failure("10.0.0.1", 0.0)
    assert not lockout.record_failure("10.0.0.1", 1.0)
    assert not lockout.locked("10.0.0.1", 1.0)
    assert lockout.record_failure("10.0.0.1", 2.0)
    assert lockout.locked("10.0.0.1", 31.9)
    assert not lockout.locked("10.0.0.1", 32.1)
    assert not lockout.locked("10.0.0.2", 5.0)


def test_failures_outside_the_window_do_not_add_up() -> None:
    lockout = Lockout(LockoutConfig(max_failures=3, window_s=10, lockout_s=30))
    for t in (0.0, 11.0, 22.0, 33.0):
        assert not lockout.record_failure("a", t)
    assert not lockout.locked("a", 33.0)


def test_lockout_memory_is_bounded() -> None:
    lockout = Lockout(LockoutConfig(max_failures=2, window_s=10, lockout_s=30, max_tracked=100))
    for i in range(10_000):
        lockout.record_failure(f"10.0.{i // 256}.{i % 256}", float(i))
    assert len(lockout) == 100


def test_success_forgets_failures() -> None:
    lockout = Lockout(LockoutConfig(max_failures=2, window_s=10, lockout_s=30))
    lockout.record_failure("a", 0.0)
    lockout.record_success("a")
    assert not lockout.record_failure("a", 1.0)


def test_bind_check_order_and_statuses() -> None:
    accounts = book()
    ok = accounts.authorize("acme", "secret", "transceiver", "127.0.0.1", 0.0)
    assert ok.status == 0
    assert ok.account is not None
    # Row 8: unknown system_id and bad password answer the same (no enumeration).
    assert accounts.authorize("nobody", "secret", "transceiver", "127.0.0.1", 0.0).status == (
        S.ESME_RINVPASWD
    )
    assert accounts.authorize("acme", "wrong", "transceiver", "127.0.0.1", 0.0).status == (
        S.ESME_RINVPASWD
    )
    # Row 10: policy refusals are ESME_RBINDFAIL, checked only after the credentials.
    assert accounts.authorize("acme", "secret", "receiver", "127.0.0.1", 0.0).status == (
        S.ESME_RBINDFAIL
    )
    assert accounts.authorize("acme", "secret", "transmitter", "10.1.2.3", 0.0).status == (
        S.ESME_RBINDFAIL
    )
    assert accounts.authorize("acme", "wrong", "transmitter", "10.1.2.3", 0.0).status == (
        S.ESME_RINVPASWD
    )
    assert accounts.authorize("acme", "secret", "transmitter", "::ffff:127.0.0.1", 0.0).status == 0
    assert accounts.authorize("acme", "secret", "transmitter", "::1", 0.0).status == 0


def test_max_binds() -> None:
    accounts = book()
    account = accounts.get("acme")
    assert account is not None
    AccountBook.bound(account, 1)
    AccountBook.bound(account, 2)
    assert accounts.authorize("acme", "secret", "transmitter", "127.0.0.1", 0.0).status == (
        S.ESME_RBINDFAIL
    )
    AccountBook.unbound(account, 1)
    assert accounts.authorize("acme", "secret", "transmitter", "127.0.0.1", 0.0).status == 0


def test_lockout_refuses_even_the_right_password() -> None:
    accounts = book()
    for t in range(3):
        accounts.authorize("acme", "guess", "transmitter", "127.0.0.9", float(t))
    verdict = accounts.authorize("acme", "secret", "transmitter", "127.0.0.9", 3.0)
    assert verdict.status == S.ESME_RBINDFAIL
    assert "locked" in verdict.reason
    assert accounts.authorize("acme", "secret", "transmitter", "127.0.0.8", 3.0).status == 0
    assert accounts.authorize("acme", "secret", "transmitter", "127.0.0.9", 40.0).status == 0


def test_open_mode_accepts_anything_and_is_bounded() -> None:
    accounts = AccountBook(config_from_mapping({"limits": {"max_accounts": 3}}))
    assert accounts.open_mode
    for name in ("a", "b", "c"):
        verdict = accounts.authorize(name, "anything", "receiver", "127.0.0.1", 0.0)
        assert verdict.status == 0
        assert verdict.account is not None
        AccountBook.bound(verdict.account, hash(name))
    # Full of accounts in use: refused like an unknown system_id.
    assert accounts.authorize("d", "x", "receiver", "127.0.0.1", 0.0).status == S.ESME_RINVPASWD
    a = accounts.get("a")
    assert a is not None
    AccountBook.unbound(a, hash("a"))
    assert accounts.authorize("d", "x", "receiver", "127.0.0.1", 0.0).status == 0
    assert accounts.get("a") is None
    assert len(accounts) == 3


def test_open_mode_with_configured_accounts_checks_their_passwords() -> None:
    accounts = book(open_mode=True)
    assert accounts.authorize("acme", "wrong", "transmitter", "127.0.0.1", 0.0).status == (
        S.ESME_RINVPASWD
    )
    assert accounts.authorize("other", "x", "receiver", "10.0.0.1", 0.0).status == 0


def test_rate_limit_per_account() -> None:
    accounts = book(accounts=[{"system_id": "acme", "password": "pw", "max_tps": 2}])
    account = accounts.get("acme")
    assert account is not None
    assert account.admit(0.0)
    assert account.admit(0.0)
    assert not account.admit(0.0)
    assert account.admit(0.5)
