"""Subscribers: a generated population plus explicitly listed numbers (DOMAIN §6.2-§6.4).

Invariants:
    * The set of generated numbers depends only on (seed, scenario, population spec): they are
      drawn without replacement from the configured ranges by one `FateRandom`.
    * A generated subscriber's attributes (carrier, ported flag, filters, ownership history) are
      drawn from that number's own stream, lazily on first lookup and then cached, so lookups in
      any order give the same subscribers and an untouched number costs nothing.
    * The carrier is per-subscriber state, never derived from the prefix (MNP, DOMAIN §2).
    * Explicit subscribers override generated ones with the same number.
    * Numbers are keyed by their JP national form; lookups accept national, E.164 digits and
      +E.164 (anything `sms.numbers.parse_msisdn` accepts), with a cache in front of the parser.
"""

from __future__ import annotations

import bisect
import itertools
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import tzinfo

from simulator.network.config import NetworkConfig, SubscriberSpec
from simulator.network.fate import FateSource
from simulator.network.ownership import NumberHistory, generate_history, history_from_spec
from sms.numbers import InvalidNumber, Msisdn, parse_msisdn

__all__ = ["HandsetState", "Population", "Subscriber"]

#: (state, start epoch s, end epoch s) of a handset window; state "off" or "storage_full".
HandsetState = tuple[str, float, float]


@dataclass(slots=True)
class Subscriber:
    """One subscriber line (one number)."""

    number: str
    """National form (the population key)."""
    carrier: str
    """Carrier name."""
    ported: bool
    """Ported by MNP."""
    reject_international: bool
    """国際SMS拒否."""
    reject_all: bool
    """一括拒否."""
    dangerous_filter: bool
    """危険SMS拒否."""
    history: NumberHistory
    """Ownership timeline."""
    tz: tzinfo | None = None
    """Local zone override for quiet hours."""
    handset: tuple[HandsetState, ...] = ()
    """Off / storage-full windows (absolute)."""
    forced_outcome: str | None = None
    """Outcome forced by the scenario."""
    reply_probability: float | None = None
    """Reply probability override."""
    reply_template: str | None = None
    """Reply template override."""
    explicit: bool = False
    """Listed in the scenario rather than generated."""
    outcome_tables: dict[str, int] = field(default_factory=dict)
    """Cache: route -> index of this subscriber's compiled outcome mix (filled by the network)."""

    def available_after(self, when: float) -> float | None:
        """When the handset is reachable again after an abnormal window holding `when`.

        Back-to-back windows (one starts where the previous ends) count as one absence.

        Args:
            when: Epoch seconds.

        Returns:
            The end of the absence (epoch seconds; may be infinite), or None when the handset
            is on at `when`.
        """
        end: float | None = None
        at = when
        while True:
            for _, start, stop in self.handset:
                if start <= at < stop:
                    end = at = stop
                    break
            else:
                return end

    def handset_state(self, when: float) -> str | None:
        """The handset's abnormal state at `when` ("off", "storage_full") or None when on.

        Args:
            when: Epoch seconds.

        Returns:
            The state of the first window containing `when`, or None.
        """
        for state, start, end in self.handset:
            if start <= when < end:
                return state
        return None


class Population:
    """All subscribers of the network, by national number."""

    def __init__(self, config: NetworkConfig, fates: FateSource) -> None:
        """Draw the generated numbers and index the explicit subscribers.

        Args:
            config: The network configuration.
            fates: The scenario's random streams.
        """
        self._config = config
        self._fates = fates
        self._tz = zoneinfo.ZoneInfo(config.timezone)
        self._epoch = config.epoch_s
        spec = config.population
        sizes = [r.size for r in spec.ranges]
        capacity = sum(sizes)
        size = min(spec.size, capacity)
        self._bounds = list(itertools.accumulate(sizes))
        draw = fates.rng("population", "numbers")
        picks = draw.sample(range(capacity), size) if size else []
        self._generated: set[str] = {self._number_at(i) for i in picks}
        names = list(spec.carrier_mix)
        self._carrier_names = names
        self._carrier_cum = list(itertools.accumulate(spec.carrier_mix[n] for n in names))
        self._explicit: dict[str, SubscriberSpec] = {}
        self._cache: dict[str, Subscriber] = {}
        self._canon: dict[str, str | None] = {}
        for sub in config.subscribers:
            national = self.canonical(sub.number)
            if national is None:
                national = sub.number
            self._explicit[national] = sub
        self._canon.clear()

    def _number_at(self, index: int) -> str:
        ranges = self._config.population.ranges
        k = bisect.bisect_right(self._bounds, index)
        offset = index - (self._bounds[k - 1] if k else 0)
        first = ranges[k].first
        return str(int(first) + offset).zfill(len(first))

    def canonical(self, raw: str) -> str | None:
        """The national form of a number, or None when it is not a number we know how to read.

        Args:
            raw: National, E.164 digits, or +E.164.

        Returns:
            The JP national form, the E.164 form for other countries, or None.
        """
        try:
            return self._canon[raw]
        except KeyError:
            pass
        result: str | None = raw
        if raw not in self._generated and raw not in self._explicit:
            msisdn: Msisdn | None
            try:
                msisdn = parse_msisdn(raw, allow_060=True, allow_m2m=True)
            except InvalidNumber:
                # Digits without '+' that are not JP are read as E.164 of another country.
                try:
                    msisdn = parse_msisdn("+" + raw) if raw.isdigit() else None
                except InvalidNumber:
                    msisdn = None
            result = None if msisdn is None else (msisdn.national or msisdn.e164)
        if len(self._canon) < 1_000_000:
            self._canon[raw] = result
        return result

    def __contains__(self, national: str) -> bool:
        return national in self._generated or national in self._explicit

    def __len__(self) -> int:
        return len(self._generated | set(self._explicit))

    def numbers(self) -> list[str]:
        """Every subscriber number (national form), sorted."""
        return sorted(self._generated | set(self._explicit))

    def generated_numbers(self) -> Iterator[str]:
        """The generated numbers, sorted."""
        return iter(sorted(self._generated))

    def get(self, national: str) -> Subscriber | None:
        """The subscriber holding a national number, building it on first use.

        Args:
            national: National form (see `canonical`).

        Returns:
            The subscriber, or None when the number is not in the population.
        """
        sub = self._cache.get(national)
        if sub is not None:
            return sub
        spec = self._explicit.get(national)
        if spec is not None:
            sub = self._from_spec(national, spec)
        elif national in self._generated:
            sub = self._generate(national)
        else:
            return None
        self._cache[national] = sub
        return sub

    def _generate(self, national: str) -> Subscriber:
        spec = self._config.population
        rng = self._fates.rng("subscriber", national)
        u = rng.random()
        k = min(bisect.bisect_right(self._carrier_cum, u), len(self._carrier_names) - 1)
        carrier = self._carrier_names[k]
        ported = rng.random() < spec.ported_share
        reject_international = rng.random() < spec.reject_international_share
        reject_all = rng.random() < spec.reject_all_share
        dangerous = rng.random() < spec.dangerous_filter_share
        history = generate_history(
            national,
            self._fates.rng("history", national),
            self._epoch,
            self._config.recycling,
            self._tz,
        )
        return Subscriber(
            number=national,
            carrier=carrier,
            ported=ported,
            reject_international=reject_international,
            reject_all=reject_all,
            dangerous_filter=dangerous,
            history=history,
        )

    def _from_spec(self, national: str, spec: SubscriberSpec) -> Subscriber:
        if spec.ownership is not None:
            history = history_from_spec(national, spec.ownership, self._tz)
        else:
            history = generate_history(
                national,
                self._fates.rng("history", national),
                self._epoch,
                self._config.recycling,
                self._tz,
            )
        windows = tuple(
            (
                w.state,
                self._epoch + w.start_s,
                float("inf") if w.end_s is None else self._epoch + w.end_s,
            )
            for w in spec.handset
        )
        return Subscriber(
            number=national,
            carrier=spec.carrier,
            ported=spec.ported,
            reject_international=spec.reject_international,
            reject_all=spec.reject_all,
            dangerous_filter=spec.dangerous_filter,
            history=history,
            tz=None if spec.timezone is None else zoneinfo.ZoneInfo(spec.timezone),
            handset=windows,
            forced_outcome=spec.outcome,
            reply_probability=spec.reply_probability,
            reply_template=spec.reply_template,
            explicit=True,
        )
