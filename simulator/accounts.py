"""Accounts of the simulated SMSC: bind authorisation, bind policy, lockout and flow control.

Pure: no sockets, no clocks, no global randomness; every method that needs time takes ``now``
(the server passes its monotonic loop time).

Order of the bind checks, and what each refusal answers (SMPP-ERRORS rows 8-10)::

    1. the address is locked out (too many failed binds)        ESME_RBINDFAIL 0x0D
    2. unknown system_id, or wrong password                      ESME_RINVPASWD 0x0E (both: no
       (counts as a failure for the lockout)                     enumeration of system_ids)
    3. the address is outside the account's allow_from          ESME_RBINDFAIL 0x0D
    4. the bind mode is not among the account's bind_modes      ESME_RBINDFAIL 0x0D
    5. the account already has max_binds sessions               ESME_RBINDFAIL 0x0D

Credentials are checked before the policy so that a refusal by policy (0x0D) never tells a
stranger that a system_id exists; a locked-out address learns nothing at all.

Invariants of this module:

* Memory is bounded whatever the peers do: the lockout remembers at most ``max_tracked``
  addresses and at most ``max_failures`` failure times per address; open mode creates at most
  ``max_accounts`` accounts and forgets idle ones (no binds, nothing queued) first.
* Passwords are compared with ``hmac.compare_digest`` and never stored in a verdict or logged.
* ``TokenBucket.take`` and ``Lockout`` only look at the ``now`` they are given; ``now`` must not
  go backwards (a monotonic clock).
"""

from __future__ import annotations

import hmac
import ipaddress
import math
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final

from simulator.config import AccountConfig, AccountLimits, LockoutConfig, SimulatorConfig
from simulator.smpp.constants import CommandStatus

__all__ = [
    "Account",
    "AccountBook",
    "BindVerdict",
    "Lockout",
    "TokenBucket",
]

_OK: Final[int] = CommandStatus.ESME_ROK
_BINDFAIL: Final[int] = CommandStatus.ESME_RBINDFAIL
_INVPASWD: Final[int] = CommandStatus.ESME_RINVPASWD


class TokenBucket:
    """A token bucket: ``rate`` tokens per second, at most ``burst`` stored."""

    __slots__ = ("_at", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: int | None = None, *, now: float = 0.0) -> None:
        """Create a full bucket.

        Args:
            rate: Tokens added per second (> 0).
            burst: Capacity; default max(1, ceil(rate)).
            now: Current time.

        Raises:
            ValueError: rate is not positive or burst is below 1.
        """
        if not rate > 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(1, math.ceil(rate)))
        if self.burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        self._tokens = self.burst
        self._at = now

    def take(self, now: float) -> bool:
        """Take one token if there is one.

        Args:
            now: Current time. A time earlier than the previous call's adds no tokens (the
                bucket may be created on one clock and read on a simulated one that starts
                earlier; it must not go negative for that).

        Returns:
            True if a token was taken (the request may proceed).
        """
        elapsed = now - self._at
        tokens = self._tokens + elapsed * self.rate if elapsed > 0 else self._tokens
        self._at = now
        if tokens > self.burst:
            tokens = self.burst
        if tokens >= 1.0:
            self._tokens = tokens - 1.0
            return True
        self._tokens = tokens
        return False


class Lockout:
    """Counts failed binds per address and locks an address out after too many."""

    __slots__ = ("_config", "_entries")

    def __init__(self, config: LockoutConfig) -> None:
        """Create an empty tracker.

        Args:
            config: Thresholds and bounds.
        """
        self._config = config
        # address -> (failure times within the window, locked until)
        self._entries: OrderedDict[str, tuple[deque[float], float]] = OrderedDict()

    def locked(self, address: str, now: float) -> bool:
        """Tell whether an address is locked out.

        Args:
            address: The peer address.
            now: Current time.

        Returns:
            True while the address is locked out.
        """
        entry = self._entries.get(address)
        return entry is not None and now < entry[1]

    def record_failure(self, address: str, now: float) -> bool:
        """Count a failed bind.

        Args:
            address: The peer address.
            now: Current time.

        Returns:
            True if this failure locked the address out.
        """
        config = self._config
        if not config.enabled:
            return False
        entry = self._entries.get(address)
        if entry is None:
            if len(self._entries) >= config.max_tracked:
                self._entries.popitem(last=False)
            entry = (deque(maxlen=config.max_failures), -math.inf)
            self._entries[address] = entry
        else:
            self._entries.move_to_end(address)
        times = entry[0]
        horizon = now - config.window_s
        while times and times[0] <= horizon:
            times.popleft()
        times.append(now)
        if len(times) >= config.max_failures:
            times.clear()
            self._entries[address] = (times, now + config.lockout_s)
            return True
        return False

    def record_success(self, address: str) -> None:
        """Forget the failures of an address that bound successfully.

        Args:
            address: The peer address.
        """
        self._entries.pop(address, None)

    def __len__(self) -> int:
        """Addresses tracked."""
        return len(self._entries)


@dataclass(eq=False, slots=True)
class Account:
    """One account as the server sees it at run time (configuration plus live state)."""

    system_id: str
    """The account's system_id."""
    limits: AccountLimits
    """Its limits (an ``AccountConfig`` for configured accounts)."""
    password: str | None
    """Password to check, or None in open mode (anything binds)."""
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    """allow_from, or () for anywhere."""
    bucket: TokenBucket | None = None
    """Submission rate limiter, or None when unlimited."""
    binds: set[int] = field(default_factory=set)
    """Ids of the sessions bound to the account."""

    def admit(self, now: float) -> bool:
        """Take a submission token (row 11).

        Args:
            now: Current time.

        Returns:
            False when the account is over its max_tps (answer ESME_RTHROTTLED).
        """
        bucket = self.bucket
        return bucket is None or bucket.take(now)


@dataclass(frozen=True, slots=True)
class BindVerdict:
    """The answer to a bind request."""

    status: int
    """command_status for the bind_*_resp (0 = bound)."""
    account: Account | None
    """The account bound, when status is 0."""
    reason: str
    """Why, in a few words (for logs and BindStateChanged.reason); never contains a password."""


def _peer_ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


class AccountBook:
    """All accounts, the lockout, and the bind decision."""

    def __init__(
        self,
        config: SimulatorConfig,
        *,
        now: float = 0.0,
        in_use: Callable[[str], bool] | None = None,
    ) -> None:
        """Build the configured accounts.

        Args:
            config: The simulator configuration.
            now: Current time (starts the token buckets full).
            in_use: Tells whether something outside the book still refers to an account (queued
                deliveries); open mode never forgets such an account.
        """
        self._in_use = in_use or (lambda system_id: False)
        self._open = config.is_open
        self._default = config.default_account
        self._max_accounts = config.limits.max_accounts
        self._lockout = Lockout(config.lockout)
        self._configured: dict[str, Account] = {
            acct.system_id: self._make(acct.system_id, acct, acct, now) for acct in config.accounts
        }
        self._dynamic: OrderedDict[str, Account] = OrderedDict()

    @staticmethod
    def _make(
        system_id: str, limits: AccountLimits, config: AccountConfig | None, now: float
    ) -> Account:
        bucket = (
            TokenBucket(limits.max_tps, limits.burst, now=now)
            if limits.max_tps is not None
            else None
        )
        return Account(
            system_id=system_id,
            limits=limits,
            password=None if config is None else config.password.get_secret_value(),
            networks=tuple(limits.allow_from),
            bucket=bucket,
        )

    @property
    def open_mode(self) -> bool:
        """Whether unknown system_ids may bind."""
        return self._open

    @property
    def lockout(self) -> Lockout:
        """The failed-bind tracker."""
        return self._lockout

    def __iter__(self) -> Iterator[Account]:
        """Every account known now (configured first)."""
        yield from self._configured.values()
        yield from self._dynamic.values()

    def __len__(self) -> int:
        """Number of accounts known now."""
        return len(self._configured) + len(self._dynamic)

    def get(self, system_id: str) -> Account | None:
        """Look an account up without creating it.

        Args:
            system_id: The system_id.

        Returns:
            The account, or None.
        """
        return self._configured.get(system_id) or self._dynamic.get(system_id)

    def obtain(self, system_id: str, now: float) -> Account | None:
        """Look an account up, creating it in open mode.

        Args:
            system_id: The system_id.
            now: Current time.

        Returns:
            The account, or None when unknown and open mode is off (or the open-mode table is
            full of accounts in use).
        """
        account = self._configured.get(system_id)
        if account is not None:
            return account
        account = self._dynamic.get(system_id)
        if account is not None:
            self._dynamic.move_to_end(system_id)
            return account
        if not self._open:
            return None
        if len(self._dynamic) >= self._max_accounts and not self._forget_idle():
            return None
        account = self._make(system_id, self._default, None, now)
        self._dynamic[system_id] = account
        return account

    def _forget_idle(self) -> bool:
        for system_id, account in self._dynamic.items():
            if not account.binds and not self._in_use(system_id):
                del self._dynamic[system_id]
                return True
        return False

    def authorize(
        self,
        system_id: str,
        password: str,
        mode: str,
        address: str,
        now: float,
    ) -> BindVerdict:
        """Decide a bind (see the module docstring for the order of the checks).

        Args:
            system_id: system_id from the bind PDU.
            password: password from the bind PDU.
            mode: "transmitter", "receiver" or "transceiver".
            address: The peer's IP address.
            now: Current time.

        Returns:
            The verdict. On success the caller registers the session with ``bound``.
        """
        lockout = self._lockout
        if lockout.locked(address, now):
            return BindVerdict(_BINDFAIL, None, "address locked out after failed binds")
        account = self._configured.get(system_id)
        if account is None:
            account = self.obtain(system_id, now) if self._open else None
            if account is None:
                lockout.record_failure(address, now)
                return BindVerdict(_INVPASWD, None, "unknown system_id or wrong password")
        elif account.password is not None and not hmac.compare_digest(
            account.password.encode("utf-8"), password.encode("utf-8")
        ):
            lockout.record_failure(address, now)
            return BindVerdict(_INVPASWD, None, "unknown system_id or wrong password")
        lockout.record_success(address)
        limits = account.limits
        if account.networks:
            ip = _peer_ip(address)
            if ip is None or not any(ip in net for net in account.networks):
                return BindVerdict(_BINDFAIL, None, f"address {address} not allowed")
        if mode not in limits.bind_modes:
            return BindVerdict(_BINDFAIL, None, f"bind mode {mode} not allowed")
        if limits.max_binds is not None and len(account.binds) >= limits.max_binds:
            return BindVerdict(_BINDFAIL, None, f"max_binds {limits.max_binds} reached")
        return BindVerdict(_OK, account, "bound")

    @staticmethod
    def bound(account: Account, session_id: int) -> None:
        """Register a bound session.

        Args:
            account: The account.
            session_id: The session's id.
        """
        account.binds.add(session_id)

    @staticmethod
    def unbound(account: Account, session_id: int) -> None:
        """Forget a session that closed.

        Args:
            account: The account.
            session_id: The session's id.
        """
        account.binds.discard(session_id)
