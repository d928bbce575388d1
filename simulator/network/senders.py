"""Sender IDs: route rules, the brand registry, lookalikes and spoof detection (DOMAIN §4, §6.4).

Route rules:
    domestic_direct  numeric senders registered to the account (JP 0005 common short codes);
                     alphanumeric senders are rejected, replaced by the account's default sender,
                     or allowed (a carrier's own notices), per configuration.
    international    alphanumeric 1-11 of [A-Za-z0-9 ] with a letter (TON 5), or numeric up to
                     15 digits (TON 1). Anything goes: this is where spoofing happens.

Registry modes for alphanumeric senders:
    none       deliver as sent (JP today): a spoof lands in the brand's thread.
    protected  block the brand's exact name and its lookalikes (REJECTD, err `screening`).
    relabel    display any alphanumeric sender not registered to the account as "Likely-SCAM".

A message is *genuine* for its displayed sender when the submitting account owns that sender (a
registered brand name, or a numeric code in its `sender_codes`). It is a *spoof* when the sender
(or, for alphanumerics, a lookalike of it) belongs to a brand or code owned by other accounts.

Invariants:
    * The displayed sender is never rewritten except by an explicit rule (replace, relabel);
      the handset threads on it byte for byte (`sms.numbers` invariant 4).
    * Verdicts depend only on (account, route, source_addr, source_ton) and the configuration,
      so they are cached; the cache is bounded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from simulator.network.config import AccountConfig, NetworkConfig
from simulator.smpp.constants import CommandStatus
from sms.numbers import InvalidSender, SenderKind, classify_sender

__all__ = ["SenderRules", "SenderVerdict", "lookalike_key"]

_TON_INTERNATIONAL: Final = 1
_TON_ALPHANUMERIC: Final = 5
_LOOKALIKE: Final = str.maketrans({"0": "o", "1": "l", "i": "l", "|": "l"})
_DROP: Final = str.maketrans("", "", " .&_-\t")
_CACHE_LIMIT: Final = 100_000


def lookalike_key(sender: str) -> str:
    """Fold a sender ID so that lookalikes compare equal.

    Folds case, 0/O, 1/l/I (and |), and drops spaces and `. & _ -`.

    Args:
        sender: An alphanumeric sender ID.

    Returns:
        The folded form: "NTT D0COMO", "ntt docomo" and "NTTDOCOMO" all give "nttdocomo".
    """
    return sender.casefold().translate(_DROP).translate(_LOOKALIKE)


@dataclass(frozen=True, slots=True)
class SenderVerdict:
    """What the network does with a submit's sender."""

    status: int
    """0, or the command_status refusing the submit (ESME_RINVSRCADR)."""
    displayed: str
    """What the handset shows (its thread key)."""
    alphanumeric: bool
    """The sender as submitted is alphanumeric."""
    brand: str | None = None
    """The registered brand / code the sender matches, if any."""
    genuine: bool = False
    """The account owns the displayed sender."""
    spoof: bool = False
    """The sender imitates a brand or code the account does not own."""
    blocked: bool = False
    """The registry blocks it (REJECTD err screening)."""
    relabelled: bool = False
    """The registry relabelled it."""
    replaced: bool = False
    """The domestic route replaced it with the account's default sender."""
    reason: str = ""
    """Why it was refused or changed."""
    flags: frozenset[str] = field(init=False)
    """Handset flags it implies: genuine, spoof, relabelled, replaced."""
    replyable: bool = field(init=False)
    """A subscriber can reply to the displayed sender (numeric senders only)."""

    def __post_init__(self) -> None:
        names = ("genuine", "spoof", "relabelled", "replaced")
        object.__setattr__(self, "flags", frozenset(name for name in names if getattr(self, name)))
        bare = self.displayed.removeprefix("+")
        object.__setattr__(self, "replyable", bare.isascii() and bare.isdigit())


class SenderRules:
    """The compiled sender rules of a network configuration."""

    def __init__(self, config: NetworkConfig) -> None:
        """Compile registry and account tables.

        Args:
            config: The network configuration.
        """
        self._config = config
        reg = config.registry
        self._mode = reg.mode
        self._relabel = reg.relabel_text
        self._fold = reg.lookalikes
        self._brands: dict[str, tuple[str, frozenset[str]]] = {}
        for entry in reg.protected:
            key = lookalike_key(entry.sender_id) if reg.lookalikes else entry.sender_id
            self._brands[key] = (entry.sender_id, frozenset(entry.accounts))
        self._codes: dict[str, set[str]] = {}
        for name, account in config.accounts.items():
            for code in account.sender_codes or ():
                self._codes.setdefault(code, set()).add(name)
        self._cache: dict[tuple[str, str, str, int], SenderVerdict] = {}

    def check(
        self, account_name: str, account: AccountConfig, route: str, source: str, ton: int
    ) -> SenderVerdict:
        """Apply route rules and the registry to one submit's sender.

        Args:
            account_name: The ESME's system_id.
            account: Its configuration.
            route: The route the message takes.
            source: source_addr as received.
            ton: source_addr_ton.

        Returns:
            The verdict (cached per argument tuple).
        """
        key = (account_name, route, source, ton)
        verdict = self._cache.get(key)
        if verdict is None:
            verdict = self._decide(account_name, account, route, source, ton)
            if len(self._cache) < _CACHE_LIMIT:
                self._cache[key] = verdict
        return verdict

    def _refuse(self, source: str, alnum: bool, reason: str) -> SenderVerdict:
        return SenderVerdict(int(CommandStatus.ESME_RINVSRCADR), source, alnum, reason=reason)

    def _decide(
        self, name: str, account: AccountConfig, route: str, source: str, ton: int
    ) -> SenderVerdict:
        uk = route == "international" and self._config.routes.international.uk_punctuation
        try:
            kind = classify_sender(source, uk_punctuation=uk)
        except InvalidSender as exc:
            return self._refuse(source, ton == _TON_ALPHANUMERIC, f"invalid sender: {exc.reason}")
        alnum = kind is SenderKind.ALPHANUMERIC
        if route == "domestic_direct":
            return self._domestic(name, account, source, alnum)
        displayed = source
        if not alnum and ton == _TON_INTERNATIONAL and not source.startswith("+"):
            displayed = "+" + source
        return self._registry(name, displayed, alnum)

    def _default_sender(self, account: AccountConfig) -> str | None:
        if account.default_sender is not None:
            return account.default_sender
        return account.sender_codes[0] if account.sender_codes else None

    def _domestic(
        self, name: str, account: AccountConfig, source: str, alnum: bool
    ) -> SenderVerdict:
        route = self._config.routes.domestic_direct
        if alnum:
            policy = account.alphanumeric_policy or route.alphanumeric_policy
            if policy == "reject":
                return self._refuse(source, True, "alphanumeric sender on the domestic route")
            if policy == "replace":
                replacement = self._default_sender(account)
                if replacement is None:
                    return self._refuse(source, True, "no default sender to replace with")
                return SenderVerdict(
                    0,
                    replacement,
                    True,
                    brand=replacement,
                    genuine=True,
                    replaced=True,
                    reason="alphanumeric sender replaced",
                )
            return self._registry(name, source, True)
        codes = account.sender_codes
        if codes is not None and source not in codes:
            if route.unregistered_numeric_policy == "reject":
                return self._refuse(source, False, "sender not registered to the account")
            replacement = self._default_sender(account)
            if replacement is None:
                return self._refuse(source, False, "no default sender to replace with")
            return SenderVerdict(
                0,
                replacement,
                False,
                brand=replacement,
                genuine=True,
                replaced=True,
                reason="unregistered sender replaced",
            )
        return self._numeric(name, source, False)

    def _numeric(self, name: str, displayed: str, alnum: bool) -> SenderVerdict:
        bare = displayed.lstrip("+")
        owners = self._codes.get(bare) or self._codes.get(displayed)
        if owners is None:
            return SenderVerdict(0, displayed, alnum)
        genuine = name in owners
        return SenderVerdict(0, displayed, alnum, brand=bare, genuine=genuine, spoof=not genuine)

    def _registry(self, name: str, displayed: str, alnum: bool) -> SenderVerdict:
        if not alnum:
            return self._numeric(name, displayed, alnum)
        key = lookalike_key(displayed) if self._fold else displayed
        entry = self._brands.get(key)
        brand = None if entry is None else entry[0]
        genuine = entry is not None and name in entry[1]
        spoof = entry is not None and not genuine
        if self._mode == "protected" and spoof:
            return SenderVerdict(
                0, displayed, True, brand=brand, spoof=True, blocked=True, reason="registry"
            )
        if self._mode == "relabel" and not genuine:
            return SenderVerdict(
                0,
                self._relabel,
                True,
                brand=brand,
                spoof=spoof,
                relabelled=True,
                reason="unregistered alphanumeric sender",
            )
        return SenderVerdict(0, displayed, True, brand=brand, genuine=genuine, spoof=spoof)
