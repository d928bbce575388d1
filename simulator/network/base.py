"""The pydantic base class of every configuration model of the carrier model.

Invariants:
    * Configuration models are strict documents: unknown keys are errors (`extra="forbid"`), so a
      typo in a scenario file fails loudly at load time instead of being ignored.
    * They are immutable once validated (`frozen=True`); the model compiles them into plain
      tuples and dicts at construction, and the hot path never touches pydantic.
    * Field docstrings become JSON-schema descriptions (`use_attribute_docstrings=True`), so the
      scenario schema documents every knob with the same text as the code.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ConfigModel(BaseModel):
    """Base of all carrier-model configuration sections."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
        validate_default=True,
    )
