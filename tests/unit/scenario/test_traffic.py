"""Traffic generator: deterministic streams, rate phases, texts, destinations, campaigns."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from scenarios.errors import TrafficError
from scenarios.loader import load_scenario
from scenarios.schema import GeneratorStream, Scenario
from scenarios.traffic import TrafficMessage, arrival_offsets, generate, timeline
from sms.alphabet import Encoding, choose_encoding

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z, the default network epoch


def _scenario(*streams: dict[str, Any], **fields: Any) -> Scenario:
    doc: dict[str, Any] = {"schema_version": 1, "name": "t", "seed": 7, "traffic": list(streams)}
    doc.update(fields)
    return Scenario.model_validate(doc)


def _gen(phases: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"kind": "generator", "name": "g", "phases": phases, **extra}


def _offsets(scenario: Scenario) -> list[float]:
    return [m.offset_s for m in generate(scenario)]


def test_same_seed_same_stream_and_other_seed_other_stream() -> None:
    spec = _gen(
        [{"kind": "steady", "rate": 5, "duration": 4}],
        arrivals="poisson",
        text={"gsm7": 1, "ucs2": 1, "long_japanese": 1},
    )
    first = list(generate(_scenario(spec)))
    again = list(generate(_scenario(spec)))
    assert first == again
    other = list(generate(_scenario(spec, seed=8)))
    assert [m.text for m in other] != [m.text for m in first]


def test_a_message_depends_on_its_key_not_on_its_neighbours() -> None:
    short = {m.key: m for m in generate(_scenario(_gen([{"kind": "burst", "count": 5}])))}
    longer = {m.key: m for m in generate(_scenario(_gen([{"kind": "burst", "count": 50}])))}
    for key, message in short.items():
        assert (longer[key].destination, longer[key].text) == (message.destination, message.text)


def test_uniform_steady_rate() -> None:
    offsets = _offsets(_scenario(_gen([{"kind": "steady", "rate": 10, "duration": 2}])))
    assert offsets == pytest.approx([i / 10 for i in range(20)])


def test_ramp_matches_the_integral_of_the_rate() -> None:
    ramp = _gen([{"kind": "ramp", "from_rate": 0, "to_rate": 20, "duration": 10}])
    offsets = _offsets(_scenario(ramp))
    assert len(offsets) == 100  # (0 + 20) / 2 * 10
    for n, t in enumerate(offsets):
        assert t**2 == pytest.approx(n, abs=1e-6)  # C(t) = t^2 for this ramp


def test_step_and_burst_phases() -> None:
    phases = [
        {"kind": "step", "rates": [1, 4], "hold": 2},
        {"kind": "burst", "count": 3, "duration": 1},
        {"kind": "burst", "count": 4, "spread": 2},
    ]
    offsets = _offsets(_scenario(_gen(phases)))
    assert offsets[:2] == pytest.approx([0.0, 1.0])
    assert offsets[2:10] == pytest.approx([2 + i / 4 for i in range(8)])
    assert offsets[10:13] == [4.0, 4.0, 4.0]
    assert offsets[13:] == pytest.approx([5.0, 5.5, 6.0, 6.5])


def test_poisson_keeps_the_mean_rate() -> None:
    spec = _gen([{"kind": "steady", "rate": 50, "duration": 100}], arrivals="poisson")
    offsets = _offsets(_scenario(spec))
    assert len(offsets) == pytest.approx(5000, rel=0.05)
    assert offsets == sorted(offsets)


def test_caps_duration_and_messages() -> None:
    spec = _gen([{"kind": "steady", "rate": 10}])
    assert len(_offsets(_scenario(spec, duration=3))) == 30
    assert len(_offsets(_scenario(spec, messages=7))) == 7
    assert len(_offsets(_scenario({**spec, "messages": 4}, duration=100))) == 4


def test_streams_merge_in_time_order_with_stable_ties() -> None:
    a = _gen([{"kind": "burst", "count": 2}], name="a", start=1)
    b = _gen([{"kind": "steady", "rate": 1, "duration": 3}], name="b")
    messages = list(generate(_scenario(a, b)))
    assert [m.key for m in messages] == ["b-000001", "a-000001", "a-000002", "b-000002",
                                         "b-000003"]  # fmt: skip
    assert [m.send_at - START for m in messages] == [0.0, 1.0, 1.0, 1.0, 2.0]


def test_texts_follow_the_mix() -> None:
    spec = _gen(
        [{"kind": "burst", "count": 600}],
        text={"gsm7": 1, "ucs2": 1, "long_japanese": 1, "long_min": 600, "long_max": 600},
    )
    messages = list(generate(_scenario(spec)))
    kinds = Counter(m.text_kind for m in messages)
    assert set(kinds) == {"gsm7", "ucs2", "long_japanese"}
    assert all(150 <= n <= 250 for n in kinds.values())
    for m in messages:
        encoding = choose_encoding(m.text)
        expected = {
            "gsm7": (Encoding.GSM7, range(1, 161)),
            "ucs2": (Encoding.UCS2, range(1, 71)),
            "long_japanese": (Encoding.UCS2, range(600, 601)),
        }[m.text_kind]
        assert (encoding, len(m.text) in expected[1]) == (expected[0], True)


def test_templates_are_filled() -> None:
    spec = _gen(
        [{"kind": "burst", "count": 3}],
        text={"templates": [{"name": "r", "text": "{name}様 {amount}円 {due} #{n} {key}"}]},
    )
    for m in generate(_scenario(spec)):
        assert m.text_kind == "template:r"
        assert "{" not in m.text
        assert m.key in m.text
        assert f"#{m.index} " in m.text


def test_unknown_template_placeholder_is_a_schema_error() -> None:
    spec = _gen([{"kind": "burst", "count": 1}], text={"templates": [{"name": "r", "text": "{x}"}]})
    with pytest.raises(ValueError, match="unknown placeholder"):
        _scenario(spec)


def test_destinations() -> None:
    listed = _gen(
        [{"kind": "burst", "count": 5}],
        destinations={"kind": "list", "numbers": ["09011110001", "09011110002"]},
    )
    assert [m.destination for m in generate(_scenario(listed))] == [
        "09011110001", "09011110002", "09011110001", "09011110002", "09011110001",
    ]  # fmt: skip
    ranged = _gen(
        [{"kind": "burst", "count": 4}],
        destinations={"kind": "range", "first": "09000000098", "last": "09000000100",
                      "order": "sequential"},
    )  # fmt: skip
    assert [m.destination for m in generate(_scenario(ranged))] == [
        "09000000098", "09000000099", "09000000100", "09000000098",
    ]  # fmt: skip
    unique = _gen(
        [{"kind": "burst", "count": 50}], destinations={"kind": "population", "unique": True}
    )
    scenario = _scenario(unique, simulator={"network": {"population": {"size": 20}}})
    numbers = [m.destination for m in generate(scenario)]
    assert len(numbers) == 20 == len(set(numbers)), "unique destinations stop the stream"


def test_campaign_from_csv(tmp_path: Path) -> None:
    (tmp_path / "rows.csv").write_text(
        "id,phone,name,obtained\nA1,09011112222,山田,2020-01-02\nA2,08033334444,佐藤,2021-03-04\n",
        encoding="utf-8",
    )
    (tmp_path / "c.yaml").write_text(
        "schema_version: 1\nname: c\ntraffic:\n  - kind: campaign\n    name: dun\n"
        "    file: rows.csv\n    template: '{name}様 {key}'\n    number_column: phone\n"
        "    key_column: id\n    obtained_column: obtained\n    rate: 2\n    start: 10s\n",
        encoding="utf-8",
    )
    messages = list(generate(load_scenario(tmp_path / "c.yaml")))
    assert [(m.key, m.destination, m.text, m.offset_s) for m in messages] == [
        ("dun-A1", "09011112222", "山田様 dun-A1", 10.0),
        ("dun-A2", "08033334444", "佐藤様 dun-A2", 10.5),
    ]
    assert str(messages[1].obtained) == "2021-03-04"


def test_campaign_csv_problems_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "rows.csv").write_text("phone\n090\n", encoding="utf-8")
    (tmp_path / "c.yaml").write_text(
        "schema_version: 1\nname: c\ntraffic:\n  - kind: campaign\n    name: dun\n"
        "    file: rows.csv\n    template: '{name}'\n",
        encoding="utf-8",
    )
    with pytest.raises(TrafficError, match=r"rows.csv:1: missing column\(s\) name, number"):
        list(generate(load_scenario(tmp_path / "c.yaml")))


def test_campaign_rows_must_have_unique_keys() -> None:
    rows = [{"number": "090", "id": "x"}, {"number": "080", "id": "x"}]
    spec = {"kind": "campaign", "name": "c", "rows": rows, "key_column": "id", "template": "hi"}
    with pytest.raises(TrafficError, match="repeats an earlier row"):
        list(generate(_scenario(spec)))


def test_timeline() -> None:
    spec = _gen([{"kind": "steady", "rate": 2, "duration": 5}])
    plan = timeline(_scenario(spec, drain=60))
    assert (plan.messages, plan.traffic_end_s, plan.run_end_s) == (10, 4.5, 64.5)
    assert plan.wall_seconds(10) == pytest.approx(6.45)


def test_arrival_offsets_respect_until_and_limit() -> None:
    stream = _scenario(_gen([{"kind": "steady", "rate": 4}]), messages=1).traffic[0]
    assert isinstance(stream, GeneratorStream)
    offsets = list(arrival_offsets(stream.phases, until=1.0))
    assert offsets == [0.0, 0.25, 0.5, 0.75]
    assert len(list(arrival_offsets(stream.phases, limit=2))) == 2
    assert all(math.isfinite(t) for t in offsets)


def test_messages_are_plain_values() -> None:
    (message,) = generate(_scenario(_gen([{"kind": "burst", "count": 1}], source="ACME")))
    assert isinstance(message, TrafficMessage)
    assert (message.source, message.send_at) == ("ACME", START)
