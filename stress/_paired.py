"""Paired ratios: how the benchmarks read a figure against its same-run baseline.

A benchmark runs its scenarios in rounds, each scenario once a round, and keeps
every round's rate. A figure's ratio to its baseline is taken within each round,
where both ran seconds apart under the same machine load, and the median of
those per-round ratios is the figure. The ratio of the two best rates, which the
benchmarks read before, lets one lucky baseline round (or one unlucky round of
the figure) move the figure by a third on a shared machine; the median of
paired ratios does not move with any one round.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

__all__ = ["Rounds", "paired"]


class Rounds:
    """Every round's rate of every scenario, by label."""

    def __init__(self) -> None:
        self.rates: dict[str, list[float]] = {}

    def add(self, label: str, rate: float) -> float:
        """Record one round's rate of ``label``; return it."""
        self.rates.setdefault(label, []).append(rate)
        return rate

    def best(self, label: str) -> float:
        """The best rate of ``label``: the round least disturbed."""
        return max(self.rates[label])

    def ratio(self, label: str, baseline: str) -> float:
        """The median over rounds of ``label``'s rate over ``baseline``'s."""
        return paired(self.rates[label], self.rates[baseline])


def paired(values: Sequence[float], baselines: Sequence[float]) -> float:
    """The median of ``values[i] / baselines[i]`` over the rounds both ran."""
    if not values or len(values) != len(baselines):
        raise ValueError("paired ratios need the same number of rounds on both sides")
    return statistics.median(v / b for v, b in zip(values, baselines, strict=True))
