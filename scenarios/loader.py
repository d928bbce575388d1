"""Load scenario files: YAML with line numbers, validated into a `Scenario`, located errors.

    scenario = load_scenario("scenarios/library/smoke.yaml")
    scenario = load_scenario_text(text, "inline.yaml")

Every problem comes back as ``FILE:LINE: FIELD: WHY``, for example
``library/smoke.yaml:14: gateway.window: Input should be greater than 0``.

Theory of operation. PyYAML composes the document into nodes that carry their marks (line,
column). We build the Python data from the nodes ourselves and record, for every key and list
item, the line it starts on, indexed by its path (``("gateway", "window")``). Pydantic reports
each error with a `loc` path that also holds names that are not in the document (union tags like
``generator``, validator names); `_locate` walks the `loc` against the data, keeps the parts that
exist, and so finds the node and its line. Problems raised by our own cross-field validators
(`FieldProblem`), the carrier model's (`NetworkConfigError`) and the simulator configuration's
(`ConfigFieldProblem`, raised by the `wire_faults` models) carry a path relative to the
model that raised them, which is appended to the `loc` before locating.

YAML dialect (deliberately narrower than PyYAML's YAML 1.1, so values mean what they look like):
    * Booleans are only ``true`` / ``false`` (any case): ``on``, ``off``, ``yes``, ``no`` stay
      strings (a reply text "no" is text).
    * Integers have no leading zero and no base-60 form: ``09012345678`` and ``0120000000`` are
      strings (phone numbers), ``21:00`` is a string (a time), not 1260.
    * A key repeated in one mapping is an error (PyYAML keeps the last one silently).
    * Exactly one document per file.

Invariants:
    * Nothing is guessed: every validation error of pydantic becomes one `Problem`; none is
      dropped. The first one opens the exception's message.
    * Relative paths inside the scenario (campaign CSV files) are resolved against the scenario
      file's directory (`base_dir` for text).
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from scenarios.errors import (
    FieldProblem,
    Problem,
    ScenarioFileError,
    ScenarioSyntaxError,
    ScenarioValidationError,
)
from scenarios.schema import Scenario
from simulator.config import ConfigFieldProblem
from simulator.network.errors import NetworkConfigError

__all__ = ["load_scenario", "load_scenario_text", "parse_yaml"]

_Path = tuple[str | int, ...]

_BOOL: Final = "tag:yaml.org,2002:bool"
_INT: Final = "tag:yaml.org,2002:int"
_FLOAT: Final = "tag:yaml.org,2002:float"


class _Loader(yaml.SafeLoader):
    """SafeLoader with the narrower dialect of the module docstring."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL, _INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    _INT,
    re.compile(r"^(?:[-+]?(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+|0o[0-7_]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"^(?:[-+]?(?:0|[1-9][0-9_]*)?\.[0-9_]+(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?(?:0|[1-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _build(
    node: yaml.Node,
    loader: _Loader,
    path: _Path,
    lines: dict[_Path, int],
    name: str,
    active: set[int],
) -> Any:
    if id(node) in active:
        raise ScenarioSyntaxError(Problem(name, _line(node), "", "recursive YAML alias"))
    if isinstance(node, yaml.MappingNode):
        active.add(id(node))
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            try:
                duplicate = key in out
            except TypeError:
                raise ScenarioSyntaxError(
                    Problem(name, _line(key_node), _dotted(path), "a key must be a plain value")
                ) from None
            if duplicate:
                raise ScenarioSyntaxError(
                    Problem(
                        name,
                        _line(key_node),
                        _dotted((*path, key)),
                        f"key repeated (first on line {lines[(*path, key)]})",
                    )
                )
            lines[(*path, key)] = _line(key_node)
            out[key] = _build(value_node, loader, (*path, key), lines, name, active)
        active.discard(id(node))
        return out
    if isinstance(node, yaml.SequenceNode):
        active.add(id(node))
        items: list[Any] = []
        for i, item in enumerate(node.value):
            lines[(*path, i)] = _line(item)
            items.append(_build(item, loader, (*path, i), lines, name, active))
        active.discard(id(node))
        return items
    return loader.construct_object(node, deep=True)


def parse_yaml(text: str, name: str) -> tuple[Any, dict[_Path, int]]:
    """Parse one YAML document and record the line of every key and list item.

    Args:
        text: The document.
        name: File name for error messages.

    Returns:
        `(data, lines)`: the plain data (dicts, lists, scalars) and path -> 1-based line
        (the root `()` included).

    Raises:
        ScenarioSyntaxError: Not YAML, several documents, a repeated key, a recursive alias.
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {(): 1}
        lines: dict[_Path, int] = {(): _line(node)}
        data = _build(node, loader, (), lines, name, set())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else int(mark.line) + 1
        problem = exc.problem or exc.context or "invalid YAML"
        raise ScenarioSyntaxError(Problem(name, line, "", f"not valid YAML: {problem}")) from None
    except yaml.YAMLError as exc:
        raise ScenarioSyntaxError(Problem(name, None, "", f"not valid YAML: {exc}")) from None
    finally:
        loader.dispose()
    return data, lines


def load_scenario_text(
    text: str,
    name: str = "<scenario>",
    *,
    base_dir: Path | None = None,
    check_files: bool = True,
) -> Scenario:
    """Load a scenario from YAML text.

    Args:
        text: The YAML document.
        name: How errors name the document (a file name).
        base_dir: Directory relative paths (campaign files) are resolved against; None: the
            current directory.
        check_files: Check that referenced files exist.

    Returns:
        The validated scenario (with `source_text` set).

    Raises:
        ScenarioSyntaxError: Not YAML, or not a mapping.
        ScenarioValidationError: Does not match the schema; one located problem per error.
    """
    data, lines = parse_yaml(text, name)
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise ScenarioSyntaxError(
            Problem(name, lines.get((), 1), "", f"a scenario is a mapping of fields, not {kind}")
        )
    context = {"base_dir": base_dir, "check_files": check_files}
    try:
        scenario = Scenario.model_validate(data, context=context)
    except ValidationError as exc:
        problems: list[Problem] = []
        for error in exc.errors(include_url=False):
            problem = _problem(error, data, lines, name)
            if problem not in problems:
                problems.append(problem)
        raise ScenarioValidationError(problems) from None
    scenario._source_text = text
    return scenario


def load_scenario(path: Path | str) -> Scenario:
    """Load a scenario file.

    Args:
        path: The YAML file; errors name it as given.

    Returns:
        The validated scenario (with `source_path` and `source_text` set).

    Raises:
        ScenarioFileError: The file cannot be read or is not UTF-8.
        ScenarioSyntaxError: Not YAML, or not a mapping.
        ScenarioValidationError: Does not match the schema.
    """
    file = Path(path)
    name = str(path)
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ScenarioFileError(name, "not UTF-8 text") from None
    except OSError as exc:
        raise ScenarioFileError(name, f"cannot read: {exc.strerror or exc}") from None
    scenario = load_scenario_text(text, name, base_dir=file.resolve().parent)
    scenario._source_path = file
    return scenario


# ---------------------------------------------------------------------------------------------
# From pydantic's errors to located problems
# ---------------------------------------------------------------------------------------------


def _dotted(path: Sequence[str | int | Any]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


_BRACKETS: Final = re.compile(r"\[([^\]]*)\]")


def _split_field(field: str) -> list[str | int]:
    """Read a dotted field path of the carrier model (``subscribers[0901234].carrier``)."""
    out: list[str | int] = []
    for chunk in field.split("."):
        head = _BRACKETS.split(chunk)
        # re.split with a group alternates text and bracket contents.
        for i, piece in enumerate(head):
            if piece == "":
                continue
            if i % 2 == 1 and piece.isdigit() and not piece.startswith("0"):
                out.append(int(piece))
            else:
                out.append(piece)
    return out


def _locate(
    loc: Sequence[str | int], data: Any, lines: Mapping[_Path, int], *, trailing: bool = True
) -> tuple[str, int | None]:
    node = data
    consumed: list[str | int] = []
    shown: list[str | int] = []
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            node = node[part]
            consumed.append(part)
            shown.append(part)
        elif isinstance(node, list) and isinstance(part, str):
            # A carrier-model path names a list item by a value it holds (a subscriber number).
            index = next(
                (
                    j
                    for j, item in enumerate(node)
                    if isinstance(item, dict) and part in (str(v) for v in item.values())
                ),
                None,
            )
            if index is None:
                continue
            node = node[index]
            consumed.append(index)
            shown.append(index)
        elif trailing and last and isinstance(part, str) and isinstance(node, dict):
            shown.append(part)  # a missing (or unknown) field: its parent's line
    line: int | None = None
    path = tuple(consumed)
    while line is None:
        line = lines.get(path)
        if not path:
            break
        path = path[:-1]
    return _dotted(shown), line


def _unwrap(tp: Any) -> list[Any]:
    """The concrete alternatives of an annotation (Annotated and Optional removed)."""
    while get_origin(tp) is typing.Annotated:
        tp = get_args(tp)[0]
    if get_origin(tp) in (Union, types.UnionType):
        out: list[Any] = []
        for arg in get_args(tp):
            if arg is not type(None):
                out.extend(_unwrap(arg))
        return out
    return [tp]


def _tag_of(model: type[BaseModel]) -> str | None:
    field = model.model_fields.get("kind")
    if field is None:
        return None
    args = get_args(field.annotation)
    return str(args[0]) if args else None


def _models_at(loc: Sequence[str | int]) -> list[type[BaseModel]]:
    """The models a `loc` (union tags included) can point at, starting from `Scenario`."""
    current: list[Any] = [Scenario]
    for part in loc:
        nxt: list[Any] = []
        options = [alt for tp in current for alt in _unwrap(tp)]
        models = [o for o in options if isinstance(o, type) and issubclass(o, BaseModel)]
        tagged = [m for m in models if _tag_of(m) == part]
        if tagged:
            nxt = list(tagged)
        elif isinstance(part, str) and any(part in m.model_fields for m in models):
            nxt = [m.model_fields[part].annotation for m in models if part in m.model_fields]
        else:
            for option in options:
                origin = get_origin(option)
                if origin is list and isinstance(part, int):
                    nxt.append(get_args(option)[0])
                elif origin is dict and isinstance(part, str):
                    nxt.append(get_args(option)[1])
        if not nxt:
            return []
        current = nxt
    flat = [alt for tp in current for alt in _unwrap(tp)]
    return [m for m in flat if isinstance(m, type) and issubclass(m, BaseModel)]


_SCALARS: Final = (str, int, float, bool, type(None))


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    msg = error["msg"]
    loc = error["loc"]
    value = error.get("input")
    if kind == "extra_forbidden":
        allowed = sorted({f for m in _models_at(loc[:-1]) for f in m.model_fields})
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        if close:
            return f"unknown field (did you mean {close[0]!r}?)"
        return f"unknown field (allowed: {', '.join(allowed)})" if allowed else "unknown field"
    if kind == "missing":
        return "required field missing"
    if kind == "union_tag_not_found":
        tags = sorted({t for m in _models_at(loc) for t in [_tag_of(m)] if t})
        hint = f" (one of: {', '.join(tags)})" if tags else ""
        return f"missing field 'kind' saying which entry this is{hint}"
    if kind.startswith("value_error") or kind == "assertion_error":
        return re.sub(r"^(Value error|Assertion failed), ", "", msg)
    if kind.endswith(("_type", "_parsing", "literal_error", "enum")) and isinstance(
        value, _SCALARS
    ):
        return f"{msg}, got {value!r}"
    return msg


def _problem(error: ErrorDetails, data: Any, lines: Mapping[_Path, int], name: str) -> Problem:
    loc: list[str | int] = list(error["loc"])
    cause = (error.get("ctx") or {}).get("error")
    message = _message(error)
    trailing = True
    if isinstance(cause, FieldProblem):
        loc.extend(cause.path)
        message = cause.detail
    elif isinstance(cause, NetworkConfigError | ConfigFieldProblem):
        # Its path is relative to whichever model raised it, and may repeat the end of `loc`:
        # keep only the parts that exist in the document.
        loc.extend(_split_field(cause.field))
        message = cause.detail
        trailing = False
    field, line = _locate(loc, data, lines, trailing=trailing)
    return Problem(name, line, field, message)
