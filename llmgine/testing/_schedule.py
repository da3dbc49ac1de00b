"""Fault schedules: when injected faults are on, by trio's clock."""

from __future__ import annotations

import math
from collections.abc import Iterable

import attrs
import trio

from .._exceptions import ConfigurationError
from ._checks import non_negative

__all__ = ["FaultSchedule", "FaultWindow"]


def _after_start(
    window: FaultWindow, attribute: attrs.Attribute[float], value: float
) -> None:
    non_negative(window, attribute, value)
    if value <= window.start:
        raise ConfigurationError(
            f"'end' must be after 'start' ({window.start!r}) (got {value!r})"
        )


@attrs.frozen(kw_only=True)
class FaultWindow:
    """Faults on from ``start`` to ``end`` seconds after the schedule's origin.

    Within the window, every fault rate is multiplied by ``intensity``.
    """

    start: float = attrs.field(default=0.0, validator=non_negative)
    end: float = attrs.field(default=math.inf, validator=_after_start)
    intensity: float = attrs.field(default=1.0, validator=non_negative)

    def covers(self, elapsed: float) -> bool:
        """Whether ``elapsed`` seconds after the origin fall in this window."""
        return self.start <= elapsed < self.end


def _windows(value: Iterable[FaultWindow] | FaultWindow) -> tuple[FaultWindow, ...]:
    if isinstance(value, FaultWindow):
        return (value,)
    try:
        windows = tuple(value)
    except TypeError:
        raise ConfigurationError(
            f"'windows' must be FaultWindows (got {value!r})"
        ) from None
    for window in windows:
        if not isinstance(window, FaultWindow):
            raise ConfigurationError(f"'windows' must be FaultWindows (got {window!r})")
    return windows


@attrs.define(kw_only=True, eq=False)
class FaultSchedule:
    """A clock-driven schedule of faults: on inside its windows, off outside.

    Times count from the schedule's *origin*, a reading of ``trio.current_time()``
    taken by :meth:`anchor` (or by the first query, if nobody anchored it);
    ``anchor(0.0)`` makes them plain ``trio.current_time()`` readings. Under
    ``trio.testing.MockClock`` the schedule follows virtual time.
    """

    windows: tuple[FaultWindow, ...] = attrs.field(converter=_windows)
    origin: float | None = None

    @classmethod
    def between(
        cls, start: float, end: float, *, intensity: float = 1.0
    ) -> FaultSchedule:
        """Faults on from ``start`` to ``end`` seconds after the origin."""
        return cls(windows=(FaultWindow(start=start, end=end, intensity=intensity),))

    @classmethod
    def never(cls) -> FaultSchedule:
        """A schedule that keeps every fault off."""
        return cls(windows=())

    def anchor(self, now: float | None = None) -> None:
        """Start counting from ``now`` (default: ``trio.current_time()``)."""
        self.origin = trio.current_time() if now is None else now

    def elapsed(self, now: float | None = None) -> float:
        """Seconds since the origin (anchoring the schedule if needed)."""
        now = trio.current_time() if now is None else now
        if self.origin is None:
            self.origin = now
        return now - self.origin

    def intensity(self, now: float | None = None) -> float:
        """How strongly faults are on at ``now``: 0.0 outside every window."""
        elapsed = self.elapsed(now)
        return max((w.intensity for w in self.windows if w.covers(elapsed)), default=0.0)

    def active(self, now: float | None = None) -> bool:
        """Whether any fault is on at ``now``."""
        return self.intensity(now) > 0.0

    @property
    def ends(self) -> float:
        """Seconds after the origin when the last window closes (0.0 if none)."""
        return max((w.end for w in self.windows), default=0.0)
