"""Errors of the scenario harness: one root, `ScenarioError`, and located subclasses.

Invariants:
    * Everything `scenarios` raises on purpose derives from `ScenarioError` (ARCHITECTURE.md
      rule 8), so the `smsh` CLI catches the whole family at its edge and prints it without a
      traceback.
    * A user-facing problem in a scenario file names the FILE, the LINE and the FIELD path and
      says why, in one line: ``library/smoke.yaml:14: gateway.window: Input should be greater
      than 0``. `Problem` is that line as data; `ScenarioValidationError` carries all of them
      (the first one opens its message).
    * Nothing here imports anything else of the project, so every module may import it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "FieldProblem",
    "LedgerError",
    "Problem",
    "ReportError",
    "ScenarioError",
    "ScenarioFileError",
    "ScenarioSyntaxError",
    "ScenarioValidationError",
    "TrafficError",
]


class ScenarioError(Exception):
    """Root of every error raised by the scenario harness."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One located problem in a scenario document."""

    file: str
    """The file as the user named it (or the name given to `load_scenario_text`)."""
    line: int | None
    """1-based line of the offending node; None when the document has no lines to point at."""
    field: str
    """Field path in the document (``traffic[0].phases[1].rate``); "" for the whole document."""
    message: str
    """Why, in words."""

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class ScenarioFileError(ScenarioError):
    """A scenario file (or a file it refers to) cannot be read.

    Attributes:
        file: The path as given.
    """

    def __init__(self, file: str, detail: str) -> None:
        """Build the error.

        Args:
            file: The path as given.
            detail: What went wrong.
        """
        super().__init__(f"{file}: {detail}")
        self.file = file


class ScenarioSyntaxError(ScenarioError):
    """A scenario file is not valid YAML (or not a mapping, or repeats a key).

    Attributes:
        problem: Where and why.
    """

    def __init__(self, problem: Problem) -> None:
        """Build the error.

        Args:
            problem: Where and why.
        """
        super().__init__(str(problem))
        self.problem = problem


class ScenarioValidationError(ScenarioError):
    """A scenario document does not match the schema.

    The message is one `Problem` per line, the first one first (the CLI prints it as is).

    Attributes:
        problems: Every problem found, in document order of pydantic's report.
    """

    def __init__(self, problems: Sequence[Problem]) -> None:
        """Build the error.

        Args:
            problems: At least one problem.
        """
        if not problems:
            raise ValueError("a validation error needs at least one problem")
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @property
    def first(self) -> Problem:
        """The first problem (the one to fix first)."""
        return self.problems[0]


class TrafficError(ScenarioError):
    """The traffic of a scenario cannot be generated (campaign file unreadable, bad template)."""


class LedgerError(ScenarioError):
    """A run ledger cannot be written or read (not a ledger, wrong version, I/O error)."""


class ReportError(ScenarioError):
    """A report cannot be produced."""


class FieldProblem(ScenarioError, ValueError):
    """Raised inside a schema validator to blame one field below the model being validated.

    Pydantic wraps it in its `ValidationError` (it is a `ValueError`); the loader reads `path`
    back from the error's context to point at the exact line of that field.

    Attributes:
        path: Field path relative to the model whose validator raised (keys and list indexes).
        detail: What is wrong with it.
    """

    def __init__(self, path: Sequence[str | int], detail: str) -> None:
        """Build the problem.

        Args:
            path: Field path relative to the validated model.
            detail: What is wrong.
        """
        self.path = tuple(path)
        self.detail = detail
        super().__init__(f"{_dotted(self.path)}: {detail}" if self.path else detail)


def _dotted(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out
