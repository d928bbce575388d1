"""Scenario loader: line-located errors (FILE:LINE: FIELD: WHY), the YAML dialect, paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from scenarios.errors import (
    Problem,
    ScenarioError,
    ScenarioFileError,
    ScenarioSyntaxError,
    ScenarioValidationError,
)
from scenarios.loader import load_scenario, load_scenario_text, parse_yaml
from scenarios.schema import CampaignStream, GeneratorStream, ListDestinations

GOOD = """\
schema_version: 1
name: t
duration: 10s
gateway:
  window: 5
traffic:
  - kind: generator
    name: main
    phases:
      - kind: steady
        rate: 2
"""


def _errors(text: str, name: str = "library/t.yaml") -> list[str]:
    with pytest.raises(ScenarioValidationError) as info:
        load_scenario_text(text, name, check_files=False)
    return [str(p) for p in info.value.problems]


def test_good_document_loads() -> None:
    scenario = load_scenario_text(GOOD, "t.yaml")
    assert scenario.gateway_spec.window == 5
    assert scenario.duration == 10.0
    assert scenario.source_text == GOOD
    assert isinstance(scenario.traffic[0], GeneratorStream)


def test_errors_are_scenario_errors() -> None:
    assert issubclass(ScenarioValidationError, ScenarioError)
    assert issubclass(ScenarioSyntaxError, ScenarioError)
    assert issubclass(ScenarioFileError, ScenarioError)


def test_unknown_field_names_it_with_line_and_suggestion() -> None:
    text = GOOD.replace("  window: 5", "  window: 5\n  windw: 6")
    assert _errors(text) == [
        "library/t.yaml:6: gateway.windw: unknown field (did you mean 'window'?)"
    ]


def test_unknown_field_without_close_match_lists_the_allowed_ones() -> None:
    text = GOOD.replace("        rate: 2", "        rate: 2\n        zzz: 1")
    (message,) = _errors(text)
    assert message == (
        "library/t.yaml:12: traffic[0].phases[0].zzz: unknown field (allowed: duration, kind, rate)"
    )


def test_value_out_of_range() -> None:
    assert _errors(GOOD.replace("window: 5", "window: 0")) == [
        "library/t.yaml:5: gateway.window: Input should be greater than 0"
    ]


def test_wrong_type_shows_the_input() -> None:
    assert _errors(GOOD.replace("rate: 2", "rate: ten")) == [
        "library/t.yaml:11: traffic[0].phases[0].rate: Input should be a valid number, "
        "unable to parse string as a number, got 'ten'"
    ]


def test_missing_required_field_points_at_its_parent() -> None:
    text = GOOD.replace("      - kind: steady\n        rate: 2\n", "      - kind: steady\n")
    assert _errors(text) == ["library/t.yaml:10: traffic[0].phases[0].rate: required field missing"]
    assert _errors(GOOD.replace("schema_version: 1\n", "")) == [
        "library/t.yaml:1: schema_version: required field missing"
    ]


def test_wrong_version() -> None:
    assert _errors(GOOD.replace("schema_version: 1", "schema_version: 2")) == [
        "library/t.yaml:1: schema_version: Input should be 1, got 2"
    ]


def test_union_tags() -> None:
    assert _errors(GOOD.replace("kind: steady", "kind: stedy")) == [
        "library/t.yaml:10: traffic[0].phases[0]: Input tag 'stedy' found using 'kind' does "
        "not match any of the expected tags: 'steady', 'ramp', 'step', 'burst'"
    ]
    assert _errors(GOOD.replace("      - kind: steady\n        rate", "      - rate")) == [
        "library/t.yaml:10: traffic[0].phases[0]: missing field 'kind' saying which entry "
        "this is (one of: burst, ramp, steady, step)"
    ]


def test_every_problem_is_reported_in_order() -> None:
    text = GOOD.replace("window: 5", "window: -1").replace("rate: 2", "rate: -2")
    assert _errors(text) == [
        "library/t.yaml:5: gateway.window: Input should be greater than 0",
        "library/t.yaml:11: traffic[0].phases[0].rate: Input should be greater than or equal to 0",
    ]


def test_cross_field_problem_points_at_the_field() -> None:
    text = GOOD + "expectations:\n  - all_terminal\n  - all_terminal\n"
    assert _errors(text) == [
        "library/t.yaml:14: expectations[1]: duplicate expectation 'all_terminal': give it a name"
    ]


def test_shorthand_expectation_error_points_at_its_item() -> None:
    text = GOOD + "expectations:\n  - delivred_ratio >= 0.9\n"
    assert _errors(text) == [
        "library/t.yaml:13: expectations[0]: unknown metric 'delivred_ratio' in "
        "'delivred_ratio >= 0.9' (did you mean 'delivered_ratio'?)"
    ]


def test_carrier_model_errors_are_located() -> None:
    text = GOOD + (
        "simulator:\n"
        "  network:\n"
        "    population:\n"
        "      carrier_mix: {docomo: 0.5, au: 0.2}\n"
        "    routes:\n"
        "      domestic_direct:\n"
        "        latency: {kind: lognormal, median_s: 5, p95_s: 2}\n"
        "  faults:\n"
        "    - kind: tps_throttle\n"
        "      start_s: 10\n"
        "      end_s: 5\n"
    )
    assert _errors(text) == [
        "library/t.yaml:15: simulator.network.population.carrier_mix: shares sum to 0.7, not 1",
        "library/t.yaml:18: simulator.network.routes.domestic_direct.latency.p95_s: "
        "2.0 must exceed median_s 5.0",
        "library/t.yaml:22: simulator.faults[0].end_s: 5.0 must be after start_s 10.0",
    ]


def test_wire_fault_errors_are_located() -> None:
    # wire_faults are the simulator configuration's own models: their cross-field problem
    # (ConfigFieldProblem) is located like the carrier model's.
    text = GOOD + (
        "simulator:\n"
        "  wire_faults:\n"
        "    - kind: garbage_bytes\n"
        "      octets: 8\n"
        "    - kind: malformed_pdu\n"
        "      start_s: 10\n"
        "      end_s: 5\n"
    )
    assert _errors(text) == [
        "library/t.yaml:18: simulator.wire_faults[1].end_s: 5.0 must be after start_s 10.0"
    ]


def test_problem_without_field_or_line() -> None:
    assert str(Problem("f.yaml", None, "", "broken")) == "f.yaml: broken"
    assert str(Problem("f.yaml", 3, "a.b", "bad")) == "f.yaml:3: a.b: bad"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: [unclosed\n", "t.yaml:2: not valid YAML:"),
        ("a: 1\n---\nb: 2\n", "t.yaml:2: not valid YAML: but found another document"),
        ("name: a\nname: b\n", "t.yaml:2: name: key repeated (first on line 1)"),
        ("- 1\n- 2\n", "t.yaml:1: a scenario is a mapping of fields, not a list"),
        ("", "t.yaml:1: a scenario is a mapping of fields, not empty"),
    ],
)
def test_syntax_errors(text: str, expected: str) -> None:
    with pytest.raises(ScenarioSyntaxError) as info:
        load_scenario_text(text, "t.yaml")
    assert str(info.value).startswith(expected)


def test_dialect_keeps_numbers_and_times_as_text() -> None:
    data, lines = parse_yaml(
        "phone: 09012345678\nfree: 0120000000\nat: 21:00\nno: no\nyes: on\nflag: true\n"
        "n: 42\nx: 1.5\ne: 1e3\nh: 0x1F\nwhen: 2026-01-15\n",
        "d.yaml",
    )
    assert data["phone"] == "09012345678"
    assert data["free"] == "0120000000"
    assert data["at"] == "21:00"
    assert data["no"] == "no"
    assert data["yes"] == "on"
    assert data["flag"] is True
    assert (data["n"], data["x"], data["e"], data["h"]) == (42, 1.5, 1000.0, 31)
    assert str(data["when"]) == "2026-01-15"
    assert lines[("at",)] == 3


def test_anchors_and_merge_keys() -> None:
    data, lines = parse_yaml("a: &x {k: 1}\nb:\n  <<: *x\n  j: 2\nc: *x\n", "d.yaml")
    assert data == {"a": {"k": 1}, "b": {"k": 1, "j": 2}, "c": {"k": 1}}
    assert lines[("b", "j")] == 4


def test_load_scenario_reads_files_and_names_them(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(GOOD.replace("window: 5", "window: 0"), encoding="utf-8")
    with pytest.raises(ScenarioValidationError) as info:
        load_scenario(path)
    assert info.value.first.file == str(path)
    assert info.value.first.line == 5
    assert info.value.first.field == "gateway.window"
    path.write_text(GOOD, encoding="utf-8")
    assert load_scenario(path).source_path == path
    with pytest.raises(ScenarioFileError, match="cannot read"):
        load_scenario(tmp_path / "missing.yaml")
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ScenarioFileError, match="not UTF-8"):
        load_scenario(tmp_path / "bin.yaml")


CAMPAIGN = """\
schema_version: 1
name: c
traffic:
  - kind: campaign
    name: dunning
    file: data/rows.csv
    template: "{name}様"
"""


def test_campaign_file_is_resolved_against_the_scenario(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "rows.csv").write_text("number,name\n09011112222,山田\n", "utf-8")
    path = tmp_path / "c.yaml"
    path.write_text(CAMPAIGN, encoding="utf-8")
    stream = load_scenario(path).traffic[0]
    assert isinstance(stream, CampaignStream)
    assert stream.file == tmp_path / "data" / "rows.csv"


def test_missing_campaign_file_is_located(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(CAMPAIGN, encoding="utf-8")
    with pytest.raises(ScenarioValidationError) as info:
        load_scenario(path)
    problem = info.value.first
    assert (problem.line, problem.field) == (6, "traffic[0].file")
    assert problem.message.startswith("no such file: ")


def test_inline_campaign_rows_need_the_template_columns() -> None:
    text = CAMPAIGN.replace("    file: data/rows.csv\n", "    rows:\n      - {number: '090'}\n")
    assert _errors(text) == ["library/t.yaml:7: traffic[0].rows[0]: missing column(s): name"]


def test_list_destinations_accept_plain_numbers_and_entries() -> None:
    text = GOOD.replace(
        "        rate: 2\n",
        "        rate: 2\n    destinations:\n      kind: list\n      numbers:\n"
        "        - 09011112222\n"
        "        - {number: 09033334444, owner: alice, obtained: 2020-01-02}\n",
    )
    stream = load_scenario_text(text, "t.yaml").traffic[0]
    assert isinstance(stream, GeneratorStream)
    assert isinstance(stream.destinations, ListDestinations)
    first, second = stream.destinations.numbers
    assert first.number == "09011112222"
    assert (second.owner, str(second.obtained)) == ("alice", "2020-01-02")
