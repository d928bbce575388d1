"""The traffic of a scenario: a pure, seeded generator of the messages to send, in time order.

    for msg in generate(scenario):           # TrafficMessage(send_at, key, destination, text, ...)
        ...                                  # the runner waits until msg.send_at, then submits

Theory of operation. A generator stream's rate profile (its phases) is a piecewise-linear rate
r(t) with jumps for bursts; its integral C(t) counts the messages due by t. Message n is sent when
C(t) reaches its target: n itself for `uniform` arrivals (evenly spaced, the first at the phase
start), or the n-th partial sum of unit exponentials for `poisson` arrivals (time rescaling: the
same profile, Poisson gaps). Inverting C on a linear segment is a quadratic; a jump maps every
target it covers to its instant. A campaign stream sends its rows in file order, all at `start` or
at a steady `rate`. The streams are merged by (time, stream order, index) and cut by the
scenario's `duration` and `messages`.

Invariants:
    * Pure and deterministic: the output depends only on (scenario, seed, start, population). No
      clock, no global random: every draw comes from `simulator.network.fate.FateSource(seed,
      scenario.name)` streams named by purpose and message key, so a message's destination and
      text depend on its key alone (not on the messages before it), and the arrival times on the
      stream alone.
    * Message keys are stable and unique within a run: ``<stream>-<n>`` (six digits, from 1) for
      a generator, ``<stream>-<row key>`` for a campaign (the key column, else the row number).
    * `send_at` never decreases along the output; equal times keep stream order, then index.
    * Long Japanese texts have exactly the drawn length in UTF-16 code units (BMP characters only),
      so 660 / 670 land exactly on the carriers' limits.
"""

from __future__ import annotations

import csv
import heapq
import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Final

from scenarios.errors import TrafficError
from scenarios.schema import (
    BurstPhase,
    CampaignStream,
    CellValue,
    DestinationEntry,
    GeneratorStream,
    ListDestinations,
    PopulationDestinations,
    RampPhase,
    RangeDestinations,
    RatePhase,
    Scenario,
    SteadyPhase,
    StepPhase,
    Stream,
    TextMix,
)
from simulator.network.fate import FateSource
from simulator.network.population import Population

__all__ = [
    "Timeline",
    "TrafficMessage",
    "arrival_offsets",
    "campaign_rows",
    "generate",
    "population_numbers",
    "timeline",
]


@dataclass(frozen=True, slots=True)
class TrafficMessage:
    """One message to send."""

    send_at: float
    """When to hand it to the gateway: seconds since 1970 on the scenario clock."""
    offset_s: float
    """Seconds after the scenario start."""
    key: str
    """Message key (``<stream>-<n>``): the identity of the message across runs and replays."""
    stream: str
    """The stream it comes from."""
    index: int
    """Its position in the stream, from 1."""
    destination: str
    """Recipient number as written in the scenario (national or E.164)."""
    text: str
    """The text."""
    text_kind: str
    """gsm7, ucs2, long_japanese, ``template:<name>``, or ``campaign``."""
    source: str | None
    """Sender; None: the gateway route's."""
    account: str | None
    """system_id of the binds to send through; None: the gateway routes decide."""
    route: str | None
    """Gateway route to force; None: by destination."""
    validity_s: float | None
    """Validity in seconds; None: the gateway's default."""
    owner: str | None = None
    """The owner the sender means to reach, when known."""
    obtained: date | None = None
    """When the sender obtained the number, when known (owner check)."""


# ---------------------------------------------------------------------------------------------
# Arrival times
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Segment:
    t0: float
    t1: float  # may be inf
    r0: float
    r1: float
    jump: int = 0  # a burst: `jump` messages at t0 (then r0 == r1 == 0, t1 == t0)

    def count(self) -> float:
        if self.jump:
            return float(self.jump)
        if math.isinf(self.t1):
            return math.inf if self.r0 > 0 else 0.0
        return (self.r0 + self.r1) * (self.t1 - self.t0) / 2.0

    def solve(self, delta: float) -> float:
        """Offset inside the segment at which `delta` messages have accumulated."""
        if self.jump or delta <= 0:
            return self.t0
        length = self.t1 - self.t0
        if self.r1 == self.r0 or math.isinf(length):
            return self.t0 + delta / self.r0
        slope = (self.r1 - self.r0) / length
        root = math.sqrt(max(self.r0 * self.r0 + 2.0 * slope * delta, 0.0))
        return self.t0 + 2.0 * delta / (self.r0 + root)


def _segments(phases: Sequence[RatePhase]) -> list[_Segment]:
    out: list[_Segment] = []
    t = 0.0
    for phase in phases:
        if isinstance(phase, SteadyPhase):
            end = math.inf if phase.duration is None else t + phase.duration
            out.append(_Segment(t, end, phase.rate, phase.rate))
            t = end
        elif isinstance(phase, RampPhase):
            out.append(_Segment(t, t + phase.duration, phase.from_rate, phase.to_rate))
            t += phase.duration
        elif isinstance(phase, StepPhase):
            for rate in phase.rates:
                out.append(_Segment(t, t + phase.hold, rate, rate))
                t += phase.hold
        elif isinstance(phase, BurstPhase):
            if phase.spread == 0:
                out.append(_Segment(t, t, 0.0, 0.0, jump=phase.count))
            else:
                rate = phase.count / phase.spread
                out.append(_Segment(t, t + phase.spread, rate, rate))
            length = phase.spread if phase.duration is None else max(phase.duration, phase.spread)
            t += length
        if math.isinf(t):
            break
    return out


_BOUNDARY_EPSILON: Final[float] = 1e-9


def arrival_offsets(
    phases: Sequence[RatePhase],
    *,
    poisson: FateSource | None = None,
    label: str = "",
    limit: int | None = None,
    until: float = math.inf,
) -> Iterator[float]:
    """Send offsets (seconds from the stream start) of a rate profile, ascending.

    Args:
        phases: The stream's phases.
        poisson: For poisson arrivals, the random streams to draw the gaps from; None: uniform.
        label: Names the gap stream (the stream name).
        limit: Stop after this many messages.
        until: Stop before this offset.

    Yields:
        One offset per message.
    """
    draw = poisson.rng("traffic.arrivals", label) if poisson is not None else None
    segments = _segments(phases)
    produced = 0
    target = 0.0 if draw is None else draw.expovariate(1.0)
    accumulated = 0.0
    for segment in segments:
        total = segment.count()
        end = accumulated + total
        # rate x duration carries float error (10 * 12.1 = 121.00000000000001): an arrival that
        # lands on the phase end within that error belongs to the next phase, not this one.
        # (An unbounded phase has end = inf and needs no such margin.)
        stop = end if math.isinf(end) else end - _BOUNDARY_EPSILON * max(1.0, end)
        while target < stop:
            if limit is not None and produced >= limit:
                return
            at = segment.solve(target - accumulated)
            if at >= until:
                return
            yield at
            produced += 1
            target = target + 1.0 if draw is None else target + draw.expovariate(1.0)
        accumulated = end
        if math.isinf(accumulated):
            return


# ---------------------------------------------------------------------------------------------
# Texts
# ---------------------------------------------------------------------------------------------

_SURNAMES: Final[tuple[tuple[str, str], ...]] = (
    ("山田", "Yamada"),
    ("佐藤", "Sato"),
    ("鈴木", "Suzuki"),
    ("高橋", "Takahashi"),
    ("田中", "Tanaka"),
    ("伊藤", "Ito"),
    ("渡辺", "Watanabe"),
    ("中村", "Nakamura"),
    ("小林", "Kobayashi"),
    ("加藤", "Kato"),
)
_GIVEN: Final[tuple[tuple[str, str], ...]] = (
    ("太郎", "Taro"),
    ("花子", "Hanako"),
    ("一郎", "Ichiro"),
    ("美咲", "Misaki"),
    ("健", "Ken"),
    ("陽子", "Yoko"),
    ("翔", "Sho"),
    ("恵", "Megumi"),
)
_GSM7: Final[tuple[str, ...]] = (
    "Dear {name_latin}, your payment of JPY {amount} is due on {due_iso}. Ref {ref}.",
    "Reminder: invoice {ref} (JPY {amount}) is overdue. Please pay by {due_iso}.",
    "Hello {name_latin}, we have not received JPY {amount}. Call 0120-000-000. Ref {ref}",
    "Payment of JPY {amount} due {due_iso} is still open. Reply STOP to opt out.",
)
_UCS2: Final[tuple[str, ...]] = (
    "{name}様 {amount}円のお支払期限は{due}です。",
    "【ご連絡】{due}までに{amount}円のお振込みをお願いいたします。",
    "{name}様 ご請求番号{ref}のお支払いが確認できておりません。",
    "{name}様 {due}期限のお支払いをお待ちしております。",
)
_LONG: Final[tuple[str, ...]] = (
    "{name}様、いつもご利用いただきありがとうございます。",
    "{due}期限のお支払い（{amount}円）がまだ確認できておりません。",
    "お手数ですが、下記口座へのお振込みをお願いいたします。",
    "すでにお支払いいただいている場合は、本メッセージと行き違いになりましたことをご容赦ください。",
    "ご不明な点がございましたら、0120-000-000（平日9時〜18時）までお問い合わせください。",
    "お支払いが困難な場合は、分割でのお支払いについてもご相談を承っております。",
    "期日までにご入金が確認できない場合、サービスのご利用を一時停止させていただくことがございます。",
    "ご請求番号は{ref}です。お問い合わせの際にお伝えください。",
    "本メッセージは送信専用のため、ご返信いただいてもお答えできません。",
    "今後ともよろしくお願い申し上げます。",
)


def _fill(template: str, values: Mapping[str, str]) -> str:
    out: list[str] = []
    pos = 0
    while True:
        start = template.find("{", pos)
        if start < 0:
            out.append(template[pos:])
            return "".join(out)
        end = template.find("}", start)
        if end < 0:
            out.append(template[pos:])
            return "".join(out)
        field = template[start + 1 : end]
        out.append(template[pos:start])
        if field in values:
            out.append(values[field])
        else:
            raise TrafficError(f"template {template!r}: no value for {{{field}}}")
        pos = end + 1


def _values(fates: FateSource, key: str, n: int, destination: str, start: float) -> dict[str, str]:
    rng = fates.rng("traffic.values", key)
    surname = rng.choice(_SURNAMES)
    given = rng.choice(_GIVEN)
    amount = rng.randrange(1000, 100_000, 100)
    # Dunning is about payments already overdue: the due date lies 3-30 days before the start.
    due = datetime.fromtimestamp(start, UTC).date() - timedelta(days=rng.randrange(3, 31))
    # Not getrandbits: FateRandom drives random() only (the Mersenne state is never seeded).
    ref = f"{int(rng.random() * 4294967296.0):08x}"
    return {
        "name": f"{surname[0]} {given[0]}",
        "name_latin": f"{surname[1]} {given[1]}",
        "amount": f"{amount:,}",
        "due": f"{due.month}月{due.day}日",
        "due_iso": due.isoformat(),
        "ref": ref,
        "n": str(n),
        "key": key,
        "destination": destination,
    }


def _long_japanese(fates: FateSource, key: str, values: Mapping[str, str], mix: TextMix) -> str:
    rng = fates.rng("traffic.long", key)
    length = rng.randint(mix.long_min, mix.long_max)
    parts: list[str] = []
    size = 0
    order = list(_LONG)
    while size < length:
        rng.shuffle(order)
        for sentence in order:
            filled = _fill(sentence, values)
            parts.append(filled)
            size += len(filled)
            if size >= length:
                break
    return "".join(parts)[:length]


def _text(fates: FateSource, key: str, values: Mapping[str, str], mix: TextMix) -> tuple[str, str]:
    kinds: list[str] = []
    weights: list[float] = []
    for name, weight in (
        ("gsm7", mix.gsm7),
        ("ucs2", mix.ucs2),
        ("long_japanese", mix.long_japanese),
    ):
        if weight > 0:
            kinds.append(name)
            weights.append(weight)
    for template in mix.templates:
        if template.weight > 0:
            kinds.append(f"template:{template.name}")
            weights.append(template.weight)
    if not kinds:
        kinds, weights = ["gsm7"], [1.0]
    rng = fates.rng("traffic.text", key)
    kind = kinds[0] if len(kinds) == 1 else rng.choices(kinds, weights)[0]
    if kind == "gsm7":
        return kind, _fill(rng.choice(_GSM7), values)
    if kind == "ucs2":
        return kind, _fill(rng.choice(_UCS2), values)
    if kind == "long_japanese":
        return kind, _long_japanese(fates, key, values, mix)
    name = kind.removeprefix("template:")
    template = next(t for t in mix.templates if t.name == name)
    return kind, _fill(template.text, values)


# ---------------------------------------------------------------------------------------------
# Destinations
# ---------------------------------------------------------------------------------------------


def population_numbers(scenario: Scenario) -> list[str]:
    """Every subscriber number of the scenario's simulated population (sorted).

    The same numbers `CarrierNetwork(scenario.network_config(), scenario.seed, scenario.name)`
    serves.

    Args:
        scenario: The scenario.

    Returns:
        National numbers.
    """
    config = scenario.network_config()
    return Population(config, FateSource(scenario.seed, scenario.name)).numbers()


class _Destinations:
    def __init__(
        self,
        spec: PopulationDestinations | ListDestinations | RangeDestinations,
        fates: FateSource,
        stream: str,
        population: Sequence[str] | None,
    ) -> None:
        self._spec = spec
        self._fates = fates
        self._pool: Sequence[str] = ()
        if isinstance(spec, PopulationDestinations):
            if not population:
                raise TrafficError(f"stream {stream}: the population is empty")
            pool = list(population)
            if spec.size is not None and spec.size < len(pool):
                pool = fates.rng("traffic.population", stream).sample(pool, spec.size)
            if spec.unique:
                fates.rng("traffic.unique", stream).shuffle(pool)
            self._pool = pool

    def limit(self) -> int | None:
        spec = self._spec
        if isinstance(spec, PopulationDestinations) and spec.unique:
            return len(self._pool)
        return None

    def pick(self, n: int, key: str) -> DestinationEntry:
        spec = self._spec
        if isinstance(spec, PopulationDestinations):
            if spec.unique:
                return DestinationEntry(number=self._pool[n - 1])
            rng = self._fates.rng("traffic.destination", key)
            return DestinationEntry(number=self._pool[rng.randrange(len(self._pool))])
        if isinstance(spec, ListDestinations):
            if spec.order == "cycle":
                return spec.numbers[(n - 1) % len(spec.numbers)]
            rng = self._fates.rng("traffic.destination", key)
            return spec.numbers[rng.randrange(len(spec.numbers))]
        plus = "+" if spec.first.startswith("+") else ""
        first, last = int(spec.first.lstrip("+")), int(spec.last.lstrip("+"))
        size = last - first + 1
        if spec.order == "sequential":
            index = (n - 1) % size
        else:
            index = self._fates.rng("traffic.destination", key).randrange(size)
        width = len(spec.first.lstrip("+"))
        return DestinationEntry(number=f"{plus}{first + index:0{width}d}")


# ---------------------------------------------------------------------------------------------
# Streams
# ---------------------------------------------------------------------------------------------


def _generator(
    stream: GeneratorStream,
    scenario: Scenario,
    fates: FateSource,
    start: float,
    population: Sequence[str] | None,
) -> Iterator[TrafficMessage]:
    destinations = _Destinations(stream.destinations, fates, stream.name, population)
    limits = [x for x in (stream.messages, destinations.limit()) if x is not None]
    until = math.inf
    if scenario.duration is not None:
        until = scenario.duration - stream.start
    offsets = arrival_offsets(
        stream.phases,
        poisson=fates if stream.arrivals == "poisson" else None,
        label=stream.name,
        limit=min(limits) if limits else None,
        until=until,
    )
    for n, offset in enumerate(offsets, start=1):
        key = f"{stream.name}-{n:06d}"
        entry = destinations.pick(n, key)
        values = _values(fates, key, n, entry.number, start)
        kind, text = _text(fates, key, values, stream.text)
        at = stream.start + offset
        yield TrafficMessage(
            send_at=start + at,
            offset_s=at,
            key=key,
            stream=stream.name,
            index=n,
            destination=entry.number,
            text=text,
            text_kind=kind,
            source=stream.source,
            account=stream.account,
            route=stream.route,
            validity_s=stream.validity,
            owner=entry.owner,
            obtained=entry.obtained,
        )


def campaign_rows(stream: CampaignStream) -> list[tuple[int, dict[str, CellValue]]]:
    """The rows of a campaign stream, each with the line it came from (0 for inline rows).

    Args:
        stream: The campaign stream (its `file` already resolved by the loader).

    Returns:
        `(line, row)` pairs in order.

    Raises:
        TrafficError: The file cannot be read, has no header, or lacks a column the stream uses.
    """
    if stream.rows is not None:
        return [(0, dict(row)) for row in stream.rows]
    assert stream.file is not None
    path = Path(stream.file)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames
            if not header:
                raise TrafficError(f"{path}: no header row")
            needed = {stream.number_column}
            needed |= stream.template_fields() - {"n", "key", "destination"}
            if stream.template is None:
                needed.add(stream.text_column)
            for column in (stream.key_column, stream.owner_column, stream.obtained_column):
                if column is not None:
                    needed.add(column)
            missing = sorted(needed - set(header))
            if missing:
                raise TrafficError(
                    f"{path}:1: missing column(s) {', '.join(missing)} "
                    f"(header: {', '.join(header)})"
                )
            rows: list[tuple[int, dict[str, CellValue]]] = []
            for row in reader:
                rows.append((reader.line_num, {k: v for k, v in row.items() if k is not None}))
            return rows
    except OSError as exc:
        raise TrafficError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise TrafficError(f"{path}: not UTF-8 text") from None


def _as_date(value: CellValue, where: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise TrafficError(f"{where}: not a date (YYYY-MM-DD): {value!r}") from None


def _campaign(stream: CampaignStream, scenario: Scenario, start: float) -> Iterator[TrafficMessage]:
    rows = campaign_rows(stream)
    where_file = str(stream.file) if stream.file is not None else f"traffic {stream.name}"
    seen: set[str] = set()
    for n, (line, row) in enumerate(rows, start=1):
        where = f"{where_file}:{line}" if line else f"{where_file} rows[{n - 1}]"
        row_key = str(row[stream.key_column]) if stream.key_column else f"{n:06d}"
        key = f"{stream.name}-{row_key}"
        if key in seen:
            raise TrafficError(f"{where}: key {row_key!r} repeats an earlier row")
        seen.add(key)
        destination = str(row[stream.number_column]).strip()
        if stream.template is not None:
            values = {k: str(v) for k, v in row.items()}
            values.update({"n": str(n), "key": key, "destination": destination})
            try:
                text = _fill(stream.template, values)
            except TrafficError as exc:
                raise TrafficError(f"{where}: {exc}") from None
        else:
            text = str(row[stream.text_column])
        owner = str(row[stream.owner_column]) if stream.owner_column else None
        obtained = _as_date(row[stream.obtained_column], where) if stream.obtained_column else None
        at = stream.start + ((n - 1) / stream.rate if stream.rate else 0.0)
        if scenario.duration is not None and at >= scenario.duration:
            return
        yield TrafficMessage(
            send_at=start + at,
            offset_s=at,
            key=key,
            stream=stream.name,
            index=n,
            destination=destination,
            text=text,
            text_kind="campaign",
            source=stream.source,
            account=stream.account,
            route=stream.route,
            validity_s=stream.validity,
            owner=owner or None,
            obtained=obtained,
        )


def _stream(
    stream: Stream,
    scenario: Scenario,
    fates: FateSource,
    start: float,
    population: Sequence[str] | None,
) -> Iterator[TrafficMessage]:
    if isinstance(stream, GeneratorStream):
        return _generator(stream, scenario, fates, start, population)
    return _campaign(stream, scenario, start)


def generate(
    scenario: Scenario,
    *,
    start: float | None = None,
    population: Sequence[str] | None = None,
) -> Iterator[TrafficMessage]:
    """Every message of the scenario's traffic, in send order.

    Args:
        scenario: The scenario.
        start: The scenario clock's start (seconds since 1970); None: `scenario.start_s`.
        population: Numbers for `population` destinations; None: computed with
            `population_numbers` when a stream needs them.

    Yields:
        The messages, `send_at` ascending, cut by the scenario's `duration` and `messages`.

    Raises:
        TrafficError: A campaign cannot be read or filled.
    """
    t0 = scenario.start_s if start is None else start
    fates = FateSource(scenario.seed, scenario.name)
    needs_population = any(
        isinstance(s, GeneratorStream) and isinstance(s.destinations, PopulationDestinations)
        for s in scenario.traffic
    )
    if needs_population and population is None:
        population = population_numbers(scenario)
    iterators = [
        ((m.offset_s, order, m.index, m) for m in _stream(s, scenario, fates, t0, population))
        for order, s in enumerate(scenario.traffic)
    ]
    merged = heapq.merge(*iterators, key=lambda item: item[:3])
    cap = scenario.messages
    for _, _, _, message in itertools.islice(merged, cap):
        yield message


@dataclass(frozen=True, slots=True)
class Timeline:
    """How long a scenario runs, in simulated seconds after its start."""

    messages: int
    """Messages the traffic produces."""
    traffic_end_s: float
    """Offset of the last message (or the scenario's `duration`)."""
    run_end_s: float
    """When the runner stops at the latest: traffic end plus `drain`."""

    def wall_seconds(self, speed: float) -> float:
        """Real seconds the run takes at most at `speed`."""
        return self.run_end_s / speed


def timeline(scenario: Scenario) -> Timeline:
    """Compute the run's extent by generating its traffic (cheap for library-sized scenarios).

    Args:
        scenario: The scenario.

    Returns:
        The timeline.
    """
    count = 0
    last = 0.0
    for message in generate(scenario):
        count += 1
        last = message.offset_s
    end = scenario.duration if scenario.duration is not None else last
    return Timeline(count, end, end + scenario.drain)
