"""Render every recipient's message(s), price them, and lint them: what an approver looks at.

A campaign has one message *variant* per schedule step (a reminder sequence: ``before``,
``due``, ``overdue``...) or a single variant (``*``) for once / monthly schedules. For every
valid recipient and every variant the preview gives the text, its characters (as users and
carriers count them: UTF-16 code units, so an emoji counts 2), its parts under the route's
profile, its billing units (1 up to 70 / 160 characters, then one per 67 / 153: DOMAIN §1.5)
and its cost (units x price per unit, tax excluded; default ¥3).

Blocking: a message over the profile's limit (660 characters for jp-docomo, 670 for the
others) cannot be sent at all and blocks approval; it is listed with its length. Lint
findings of severity error block approval unless overridden (see `gateway.campaigns.lint`).

Invariants:
    * Pure: a function of the campaign snapshot and its rows.
    * Rendering uses the typed values stored at import, so the preview shows exactly the text
      that `send` will hand over.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from gateway.campaigns.config import TemplateSpec
from gateway.campaigns.csvimport import NAME
from gateway.campaigns.lint import Finding, Linter, LintSettings, NoticeStage, Severity
from gateway.campaigns.template import CompiledTemplate, compile_template
from gateway.campaigns.values import FieldType, MergeValue, from_json
from sms.segments import MessageTooLong, get_profile, plan

__all__ = [
    "MAIN_VARIANT",
    "MessagePreview",
    "Preview",
    "Variant",
    "build_preview",
    "compile_variants",
    "preview_message",
    "render_values",
]

#: The variant key of once / monthly schedules.
MAIN_VARIANT: Final[str] = "*"


@dataclass(frozen=True, slots=True)
class Variant:
    """One message body of a campaign."""

    key: str
    """``*`` or the sequence step key."""
    template: CompiledTemplate
    """The compiled body."""
    stage: NoticeStage
    """Its notice stage."""


def compile_variants(spec: TemplateSpec, types: Mapping[str, FieldType]) -> dict[str, Variant]:
    """Compile the template file's body (and each step's own body).

    Raises:
        TemplateError: A body does not compile; located in the file (step bodies are named
            ``FILE#step``).
    """
    if spec.schedule.kind != "sequence":
        return {
            MAIN_VARIANT: Variant(
                MAIN_VARIANT, compile_template(spec.body, types, source=spec.source), spec.stage
            )
        }
    variants: dict[str, Variant] = {}
    for step in spec.schedule.steps:
        body = step.body if step.body is not None else spec.body
        source = f"{spec.source}#{step.key}" if step.body is not None else spec.source
        variants[step.key] = Variant(
            step.key,
            compile_template(body, types, source=source),
            step.stage if step.stage is not None else spec.stage,
        )
    return variants


def render_values(
    stored: Mapping[str, Any], types: Mapping[str, FieldType], wanted: Iterable[str]
) -> dict[str, MergeValue]:
    """Typed values for the `wanted` fields from a row's stored JSON values."""
    return {name: from_json(stored[name], types[name]) for name in wanted if name in stored}


@dataclass(frozen=True, slots=True)
class MessagePreview:
    """One recipient's message for one variant."""

    line: int
    """CSV line."""
    e164: str
    """Destination."""
    name: str
    """Recipient name ("" when none)."""
    variant: str
    """Variant key."""
    text: str
    """Rendered text."""
    chars: int
    """Characters (UTF-16 code units for UCS-2, septets' characters for GSM-7)."""
    parts: int
    """Parts under the profile (0 when too long)."""
    units: int
    """Billing units (0 when too long)."""
    cost: Decimal
    """units x price."""
    limit: int | None
    """The profile's character limit for this encoding."""

    @property
    def too_long(self) -> bool:
        """True when the text exceeds the profile and cannot be sent."""
        return self.parts == 0

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "line": self.line,
            "e164": self.e164,
            "name": self.name,
            "variant": self.variant,
            "chars": self.chars,
            "parts": self.parts,
            "units": self.units,
            "cost": str(self.cost),
            "too_long": self.too_long,
            "limit": self.limit,
            "text": self.text,
        }


@dataclass(slots=True)
class Preview:
    """Everything an approver needs to decide."""

    profile: str
    """Segmentation profile."""
    price_per_unit: Decimal
    """Yen per unit, tax excluded."""
    recipients: int
    """Valid, unique recipients in the segment."""
    messages: list[MessagePreview] = field(default_factory=list)
    """Every (recipient, variant) message, in line order."""
    findings: list[Finding] = field(default_factory=list)
    """Lint findings."""

    @property
    def overlength(self) -> list[MessagePreview]:
        """Messages over the profile's limit (they block approval)."""
        return [m for m in self.messages if m.too_long]

    @property
    def lint_errors(self) -> list[Finding]:
        """Findings of severity error."""
        return [f for f in self.findings if f.severity is Severity.ERROR]

    @property
    def units(self) -> int:
        """Total billing units of the sendable messages."""
        return sum(m.units for m in self.messages)

    @property
    def cost(self) -> Decimal:
        """Total cost of the sendable messages (tax excluded)."""
        return sum((m.cost for m in self.messages), Decimal(0))

    def parts_histogram(self) -> dict[int, int]:
        """Messages per part count (0 = too long)."""
        out: dict[int, int] = {}
        for m in self.messages:
            out[m.parts] = out.get(m.parts, 0) + 1
        return dict(sorted(out.items()))

    def to_dict(self, *, limit: int | None = None) -> dict[str, object]:
        """JSON-ready summary, with the first `limit` messages (all when None)."""
        shown = self.messages if limit is None else self.messages[:limit]
        return {
            "profile": self.profile,
            "price_per_unit": str(self.price_per_unit),
            "recipients": self.recipients,
            "messages": len(self.messages),
            "units": self.units,
            "cost": str(self.cost),
            "parts_histogram": {str(k): v for k, v in self.parts_histogram().items()},
            "overlength": [m.to_dict() for m in self.overlength],
            "findings": [f.to_dict() for f in self.findings],
            "sample": [m.to_dict() for m in shown],
        }


def preview_message(
    line: int,
    e164: str,
    name: str,
    variant: str,
    text: str,
    profile: str,
    price: Decimal,
) -> MessagePreview:
    """Plan one rendered text and price it."""
    try:
        planned = plan(text, profile)
    except MessageTooLong as exc:
        return MessagePreview(
            line, e164, name, variant, text, exc.chars, 0, 0, Decimal(0), exc.max_chars
        )
    limit = get_profile(profile).limit(planned.encoding)
    return MessagePreview(
        line,
        e164,
        name,
        variant,
        text,
        planned.chars,
        len(planned.parts),
        planned.units,
        planned.units * price,
        limit,
    )


def build_preview(
    spec: TemplateSpec,
    variants: Mapping[str, Variant],
    types: Mapping[str, FieldType],
    rows: Iterable[tuple[int, str, Mapping[str, Any]]],
    *,
    price: Decimal,
    lint: LintSettings,
) -> Preview:
    """Render, price and lint every (recipient, variant).

    Args:
        spec: The template spec (sender, route, profile).
        variants: From `compile_variants`.
        types: Field types.
        rows: (line, E.164, stored values) of every valid recipient.
        price: Yen per billing unit.
        lint: Lint settings.

    Returns:
        The preview.
    """
    linter = Linter(lint)
    linter.check_sender(spec.sender, spec.route)
    wanted = set().union(*(v.template.fields for v in variants.values())) | {NAME}
    preview = Preview(spec.profile, price, 0)
    for line, e164, stored in rows:
        preview.recipients += 1
        values = render_values(stored, types, wanted)
        name = str(values.get(NAME, ""))
        for variant in variants.values():
            text = variant.template.render(values)
            preview.messages.append(
                preview_message(line, e164, name, variant.key, text, spec.profile, price)
            )
            linter.check_message(line, text, name, variant.stage)
    preview.findings = linter.findings()
    return preview
