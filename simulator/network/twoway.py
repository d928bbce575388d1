"""Two-way SMS: whether, when and what a subscriber replies, and the MO parts that carry it.

Invariants:
    * A reply is a function of the answered message's key only: the decision, the template,
      the delay and the concatenation reference come from four words of that key's stream, at
      fixed positions (0 reply?, 1 template, 2 delay, 3 reference).
    * Long replies are split by `sms.segments.plan` with the configured method (UDH 8/16-bit
      reference, or SAR TLVs), so the receiving gateway must reassemble them; nothing is split
      here by hand.
    * A new owner of a recycled number answers with the wrong-number template.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from simulator.network.config import ReplyTemplate, TwoWayConfig
from simulator.network.distributions import compile_latency
from simulator.network.effects import MoDue
from simulator.network.fate import uniform
from sms.segments import Method, Plan, plan
from sms.udh import Concat

__all__ = ["Reply", "TwoWay"]

_PLAN_CACHE: Final = 4096
_METHOD: Final[dict[str, Method]] = {
    "udh8": Method.UDH8,
    "udh16": Method.UDH16,
    "sar": Method.SAR,
}


@dataclass(frozen=True, slots=True)
class Reply:
    """A decided reply."""

    template: ReplyTemplate
    """What is replied."""
    delay_s: float
    """Seconds after the answered message became visible."""
    reference: int
    """Concatenation reference for a long reply."""


class TwoWay:
    """Compiled two-way behaviour."""

    def __init__(self, cfg: TwoWayConfig) -> None:
        """Compile templates and the delay distribution.

        Args:
            cfg: Two-way settings.
        """
        self._cfg = cfg
        self._templates = tuple(cfg.templates)
        self._by_name = {t.name: t for t in cfg.templates}
        total = sum(t.weight for t in cfg.templates) or 1.0
        self._cum = tuple(itertools.accumulate(t.weight / total for t in cfg.templates))
        self._delay = compile_latency(cfg.delay)
        self._method = _METHOD[cfg.concat]
        self._ref_limit = 256 if self._method is Method.UDH8 else 65536
        # plan() is pure, so its result for (text, reference) can be reused; bounded.
        self._plans: dict[tuple[str, int], Plan] = {}

    @property
    def enabled(self) -> bool:
        """Replies are generated at all."""
        return self._cfg.enabled and bool(self._templates)

    def decide(
        self,
        words: Sequence[int],
        *,
        probability: float | None = None,
        template: str | None = None,
        wrong_number: bool = False,
    ) -> Reply | None:
        """Whether and how a subscriber replies.

        Args:
            words: Four 32-bit words of the answered message's stream: reply?, template,
                delay, reference.
            probability: Per-subscriber override of the reply probability.
            template: Per-subscriber forced template name.
            wrong_number: The recipient is not the intended person.

        Returns:
            The reply, or None for no reply.
        """
        p = self._cfg.reply_probability if probability is None else probability
        if not self.enabled or uniform(words[0]) >= p:
            return None
        chosen: ReplyTemplate
        if wrong_number and self._cfg.wrong_number_reply is not None:
            chosen = self._cfg.wrong_number_reply
        elif template is not None:
            chosen = self._by_name[template]
        else:
            u_template = uniform(words[1])
            index = next((i for i, c in enumerate(self._cum) if u_template < c), len(self._cum) - 1)
            chosen = self._templates[index]
        return Reply(
            chosen, self._delay(uniform(words[2])), int(uniform(words[3]) * self._ref_limit)
        )

    def mo_parts(
        self,
        reply: Reply,
        *,
        at: float,
        key: str,
        in_reply_to: str,
        account: str,
        source_addr: str,
        destination_addr: str,
    ) -> list[MoDue]:
        """The deliver_sm parts carrying a reply.

        Args:
            reply: The decided reply.
            at: When the subscriber sends it (epoch seconds).
            key: The reply's key.
            in_reply_to: Key of the answered message.
            account: system_id to deliver it to.
            source_addr: The subscriber's number (as the original was addressed).
            destination_addr: The number replied to.

        Returns:
            One `MoDue` per part, in seq order, all due at `at`.
        """
        cache_key = (reply.template.text, reply.reference)
        planned = self._plans.get(cache_key)
        if planned is None:
            planned = plan(reply.template.text, method=self._method, reference=reply.reference)
            if len(self._plans) >= _PLAN_CACHE:
                self._plans.clear()
            self._plans[cache_key] = planned
        bits: Literal[8, 16] = 8 if self._method is Method.UDH8 else 16
        total = len(planned.parts)
        return [
            MoDue(
                at=at,
                key=key,
                in_reply_to=in_reply_to,
                account=account,
                source_addr=source_addr,
                destination_addr=destination_addr,
                short_message=part.short_message,
                data_coding=planned.data_coding,
                esm_class=planned.esm_class,
                sar=part.sar,
                concat=Concat(planned.reference, total, part.seq, bits)
                if planned.esm_class and total > 1
                else None,
                part=part.seq,
                total=total,
                text=reply.template.text,
                template=reply.template.name,
            )
            for part in planned.parts
        ]
