"""Delay distributions as data (`kind`-tagged pydantic models) and their compiled samplers.

Invariants:
    * A distribution is sampled from exactly one uniform number `u` in the open interval (0, 1)
      through its quantile function. One uniform per sample means the model can hand out
      uniforms positionally from a message's own stream, so adding a knob never shifts the
      draws (and so the fates) of unrelated decisions.
    * Samples are finite and non-negative seconds, clamped to `max_s` when one is given.
    * `compile_latency` turns a validated spec into a plain closure; the hot path calls that
      closure and never touches pydantic.

The default latency (DOMAIN §6.5) is "median 3 s, p95 15 s, p99 60 s". A single lognormal cannot
hit all three (fitting median and p95 gives p99 = 29 s), so `LognormalLatency` is a piecewise
lognormal: one sigma below the 95th percentile (fitted to median and p95) and a second, heavier
sigma above it (fitted to p95 and p99). The quantile function is continuous and matches the three
anchors exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from statistics import NormalDist
from typing import Annotated, Final, Literal, TypeAlias

from pydantic import Field, model_validator

from simulator.network.base import ConfigModel
from simulator.network.errors import NetworkConfigError

__all__ = [
    "ExponentialLatency",
    "FixedLatency",
    "LatencySampler",
    "LatencySpec",
    "LognormalLatency",
    "compile_latency",
]

_STANDARD_NORMAL: Final = NormalDist()
_Z95: Final[float] = _STANDARD_NORMAL.inv_cdf(0.95)
_Z99: Final[float] = _STANDARD_NORMAL.inv_cdf(0.99)

#: A compiled distribution: a uniform in (0, 1) -> seconds.
LatencySampler: TypeAlias = Callable[[float], float]


class LognormalLatency(ConfigModel):
    """Piecewise lognormal delay fitted to a median, a 95th and optionally a 99th percentile."""

    kind: Literal["lognormal"] = "lognormal"
    """Discriminator."""
    median_s: float = Field(default=3.0, gt=0)
    """Median delay in seconds (DOMAIN §6.5: 3 s)."""
    p95_s: float = Field(default=15.0, gt=0)
    """95th percentile in seconds (DOMAIN §6.5: 15 s); must exceed the median."""
    p99_s: float | None = Field(default=60.0, gt=0)
    """99th percentile in seconds (DOMAIN §6.5: 60 s), or None for a plain lognormal."""
    max_s: float | None = Field(default=None, gt=0)
    """Upper clamp in seconds, or None for no clamp."""

    @model_validator(mode="after")
    def _ordered(self) -> LognormalLatency:
        if self.p95_s <= self.median_s:
            raise NetworkConfigError("p95_s", f"{self.p95_s} must exceed median_s {self.median_s}")
        if self.p99_s is not None and self.p99_s <= self.p95_s:
            raise NetworkConfigError("p99_s", f"{self.p99_s} must exceed p95_s {self.p95_s}")
        return self


class FixedLatency(ConfigModel):
    """The same delay every time."""

    kind: Literal["fixed"] = "fixed"
    """Discriminator."""
    seconds: float = Field(default=0.0, ge=0)
    """The delay in seconds."""


class ExponentialLatency(ConfigModel):
    """An exponential delay (memoryless), optionally shifted and clamped."""

    kind: Literal["exponential"] = "exponential"
    """Discriminator."""
    mean_s: float = Field(default=3.0, gt=0)
    """Mean of the exponential part in seconds."""
    min_s: float = Field(default=0.0, ge=0)
    """Constant added to every sample (a floor), in seconds."""
    max_s: float | None = Field(default=None, gt=0)
    """Upper clamp in seconds, or None for no clamp."""


LatencySpec: TypeAlias = Annotated[
    LognormalLatency | FixedLatency | ExponentialLatency, Field(discriminator="kind")
]
"""Any delay distribution, tagged by `kind`."""


def _lognormal(spec: LognormalLatency) -> LatencySampler:
    median = spec.median_s
    p95 = spec.p95_s
    sigma_body = math.log(p95 / median) / _Z95
    sigma_tail = sigma_body if spec.p99_s is None else math.log(spec.p99_s / p95) / (_Z99 - _Z95)
    cap = math.inf if spec.max_s is None else spec.max_s
    inv_cdf = _STANDARD_NORMAL.inv_cdf
    exp = math.exp

    def sample(u: float) -> float:
        z = inv_cdf(u)
        # Below the 95th percentile the body sigma, above it the tail sigma (continuous at z95).
        value = median * exp(sigma_body * z) if z <= _Z95 else p95 * exp(sigma_tail * (z - _Z95))
        return value if value < cap else cap

    return sample


def _fixed(spec: FixedLatency) -> LatencySampler:
    seconds = spec.seconds

    def sample(u: float) -> float:
        return seconds

    return sample


def _exponential(spec: ExponentialLatency) -> LatencySampler:
    mean = spec.mean_s
    floor = spec.min_s
    cap = math.inf if spec.max_s is None else spec.max_s
    log = math.log

    def sample(u: float) -> float:
        value = floor - mean * log(1.0 - u)
        return value if value < cap else cap

    return sample


def compile_latency(spec: LognormalLatency | FixedLatency | ExponentialLatency) -> LatencySampler:
    """Compile a distribution into a quantile function.

    Args:
        spec: A validated distribution.

    Returns:
        A function mapping a uniform `u` in (0, 1) to a delay in seconds.
    """
    if isinstance(spec, LognormalLatency):
        return _lognormal(spec)
    if isinstance(spec, FixedLatency):
        return _fixed(spec)
    return _exponential(spec)
