"""Medians, paired ratios and the Markdown tables of the static benchmark."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

#: Ratios within this distance of 1 are ties (SPEC 12: ±6 %).
TIE = 0.06


@dataclass(frozen=True)
class Series:
    """Requests/s of one contender on one file, one number per round."""

    rates: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.rates)

    @property
    def spread(self) -> float:
        """Half the range, relative to the median."""
        return (max(self.rates) - min(self.rates)) / 2 / self.median if self.median else 0.0

    def __str__(self) -> str:
        return f"{self.median:,.0f} ±{self.spread:.0%}"


def median_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """A distribution-free confidence interval of the median: the order
    statistics ``k`` and ``n + 1 - k`` with the largest ``k`` such that the
    binomial tail below ``k`` is at most ``(1 - confidence) / 2``.  With fewer
    than 6 values that is simply the range (its coverage is then lower)."""
    ordered = sorted(values)
    n = len(ordered)
    tail, k = 0.0, 0
    while k < n // 2:
        tail += math.comb(n, k) / 2**n
        if tail > (1 - confidence) / 2:
            break
        k += 1
    k = max(k, 1)
    return ordered[k - 1], ordered[n - k]


@dataclass(frozen=True)
class Ratio:
    """Ours divided by a peer, round by round (the two ran seconds apart)."""

    per_round: tuple[float, ...]

    @classmethod
    def of(cls, ours: Series, peers: Sequence[Series]) -> Ratio:
        """Ours over the fastest of ``peers`` in each round."""
        rounds = zip(ours.rates, *(peer.rates for peer in peers), strict=True)
        return cls(tuple(mine / max(theirs) for mine, *theirs in rounds if max(theirs) > 0))

    @property
    def median(self) -> float:
        return statistics.median(self.per_round)

    @property
    def verdict(self) -> str:
        if self.median > 1 + TIE:
            return "ahead"
        if self.median >= 1 - TIE:
            return "tie"
        return "behind"

    def __str__(self) -> str:
        low, high = median_interval(self.per_round)
        return f"{self.median:.2f} ({low:.2f} to {high:.2f})"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---" for _ in header) + "|")
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)
