"""Fault injection: a seeded injector that decides, message by message, what breaks."""

from __future__ import annotations

import enum
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import attrs
import trio

from .._exceptions import ConfigurationError, LLMgineError
from ..actors import Failure
from ._checks import non_negative, probability
from ._schedule import FaultSchedule

__all__ = ["Fault", "FaultInjector", "FaultStatistics", "InjectedFault"]


class Fault(enum.Enum):
    """The faults an injector can inject into one message."""

    #: ``receive`` raises :class:`InjectedFault`: the actor fails and restarts.
    CRASH = "crash"
    #: ``receive`` answers ``Failure(InjectedFault)``: an error, without a restart.
    FAIL = "fail"
    #: ``receive`` never returns (until the actor is cancelled).
    HANG = "hang"
    #: ``receive`` sleeps ``delay`` seconds first (follows ``MockClock``).
    SLOW = "slow"


class InjectedFault(LLMgineError):
    """The error an injected crash raises (or an injected failure answers with)."""

    def __init__(self, fault: Fault, message: object) -> None:
        super().__init__(f"injected {fault.value} on {type(message).__name__} message")
        self.fault = fault


@attrs.frozen(kw_only=True)
class FaultStatistics:
    """What an injector has seen and injected so far."""

    seen: int
    crashes: int
    failures: int
    hangs: int
    slowdowns: int

    @property
    def injected(self) -> int:
        """Every fault injected, of any kind."""
        return self.crashes + self.failures + self.hangs + self.slowdowns


@attrs.define(kw_only=True, eq=False)
class FaultInjector:
    """Decides, message by message, which fault to inject; seeded for replay.

    Each message draws one number from a ``random.Random(seed)``, so the same
    seed and the same message sequence give the same faults. Rates are
    probabilities per message (their sum at most 1) and are scaled by the
    ``schedule``'s intensity when there is one. ``crash_on`` / ``fail_on``
    choose messages that always crash / fail, whatever the schedule says.
    ``error(fault, message)`` builds the exception to raise or answer with
    (default: :class:`InjectedFault`).

    Share one injector between incarnations of an actor (as :func:`faulty`
    does) so a restart continues the random sequence instead of replaying it.
    """

    crash_rate: float = attrs.field(default=0.0, validator=probability)
    fail_rate: float = attrs.field(default=0.0, validator=probability)
    hang_rate: float = attrs.field(default=0.0, validator=probability)
    slow_rate: float = attrs.field(default=0.0, validator=probability)
    delay: float = attrs.field(default=0.01, validator=non_negative)
    crash_on: Callable[[Any], bool] | None = None
    fail_on: Callable[[Any], bool] | None = None
    schedule: FaultSchedule | None = None
    error: Callable[[Fault, Any], Exception] | None = None
    seed: int | None = 0
    _random: random.Random = attrs.field(init=False)
    _counts: Counter[Fault] = attrs.field(init=False, factory=Counter)
    _seen: int = attrs.field(init=False, default=0)

    def __attrs_post_init__(self) -> None:
        total = self.crash_rate + self.fail_rate + self.hang_rate + self.slow_rate
        if total > 1.0:
            raise ConfigurationError(
                f"the fault rates must add up to at most 1 (got {total!r})"
            )
        self._random = random.Random(self.seed)

    def decide(self, message: object) -> Fault | None:
        """Choose the fault for one message (or None) and count it."""
        self._seen += 1
        draw = self._random.random()
        fault: Fault | None = None
        if self.crash_on is not None and self.crash_on(message):
            fault = Fault.CRASH
        elif self.fail_on is not None and self.fail_on(message):
            fault = Fault.FAIL
        else:
            scale = 1.0 if self.schedule is None else self.schedule.intensity()
            if scale > 0.0:
                fault = self._pick(draw / scale)
        if fault is not None:
            self._counts[fault] += 1
        return fault

    def _pick(self, draw: float) -> Fault | None:
        for fault, rate in (
            (Fault.CRASH, self.crash_rate),
            (Fault.FAIL, self.fail_rate),
            (Fault.HANG, self.hang_rate),
            (Fault.SLOW, self.slow_rate),
        ):
            if draw < rate:
                return fault
            draw -= rate
        return None

    async def inject(self, message: object) -> Failure | None:
        """Apply the fault chosen for ``message``.

        Raises for a crash, returns a :class:`~llmgine.actors.Failure` to answer
        with for a failure, never returns for a hang, sleeps for a slowdown;
        returns None when the message should be handled normally.
        """
        fault = self.decide(message)
        if fault is None:
            return None
        if fault is Fault.CRASH:
            raise self._error(fault, message)
        if fault is Fault.FAIL:
            return Failure(self._error(fault, message))
        if fault is Fault.HANG:
            await trio.sleep_forever()
        await trio.sleep(self.delay)
        return None

    def _error(self, fault: Fault, message: object) -> Exception:
        if self.error is None:
            return InjectedFault(fault, message)
        return self.error(fault, message)

    def statistics(self) -> FaultStatistics:
        """A snapshot of what was seen and injected."""
        counts = self._counts
        return FaultStatistics(
            seen=self._seen,
            crashes=counts[Fault.CRASH],
            failures=counts[Fault.FAIL],
            hangs=counts[Fault.HANG],
            slowdowns=counts[Fault.SLOW],
        )
