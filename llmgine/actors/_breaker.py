"""Circuit breakers: fail fast around a child that keeps failing."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

import attrs
import trio

from .._exceptions import ConfigurationError

__all__ = ["BreakerState", "CircuitBreaker"]


class BreakerState(enum.Enum):
    """Where a circuit breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


def _positive(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None and attribute.name == "call_timeout":
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigurationError(
            f"'{attribute.name}' must be a positive number (got {value!r})"
        )


@attrs.frozen(kw_only=True)
class CircuitBreaker:
    """Breaker policy for one child.

    ``max_failures`` consecutive failures (raised errors, ``Failure`` replies and
    asks past ``call_timeout``) open the circuit. While open, ``ask`` raises
    :class:`CircuitOpenError` at once and ``tell`` dead-letters with reason
    ``CIRCUIT_OPEN``. After ``reset_timeout`` seconds one trial message passes
    (half-open): success closes the circuit, failure re-opens it with the
    timeout doubled, up to ``max_reset_timeout``.
    """

    max_failures: int = attrs.field(default=5, validator=_positive)
    reset_timeout: float = attrs.field(default=30.0, validator=_positive)
    call_timeout: float | None = attrs.field(default=None, validator=_positive)
    max_reset_timeout: float = attrs.field(default=300.0, validator=_positive)


class BreakerRuntime:
    """The live state of one breaker; it belongs to the ref and survives restarts."""

    __slots__ = (
        "config",
        "current_timeout",
        "failures",
        "on_change",
        "opened_at",
        "state",
        "trial_pending",
        "trips",
    )

    def __init__(
        self,
        config: CircuitBreaker,
        on_change: Callable[[BreakerState, BreakerState], None],
    ) -> None:
        self.config = config
        self.on_change = on_change
        self.state = BreakerState.CLOSED
        self.failures = 0
        self.opened_at = 0.0
        self.current_timeout = config.reset_timeout
        self.trial_pending = False
        self.trips = 0

    def allow(self) -> bool:
        """May one more message in? Moves OPEN to HALF_OPEN once the timeout passed."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.OPEN:
            if trio.current_time() - self.opened_at < self.current_timeout:
                return False
            self._move(BreakerState.HALF_OPEN)
        if self.trial_pending:
            return False
        self.trial_pending = True
        return True

    def success(self) -> None:
        """A message was handled well."""
        if self.state is BreakerState.CLOSED:
            self.failures = 0
            return
        self.failures = 0
        self.trial_pending = False
        self.current_timeout = self.config.reset_timeout
        self._move(BreakerState.CLOSED)

    def failure(self) -> None:
        """A message failed (raised, answered Failure, or ran past call_timeout)."""
        if self.state is BreakerState.HALF_OPEN:
            self.trial_pending = False
            self.current_timeout = min(
                self.current_timeout * 2, self.config.max_reset_timeout
            )
            self._open()
            return
        if self.state is BreakerState.OPEN:
            return
        self.failures += 1
        if self.failures >= self.config.max_failures:
            self._open()

    def _open(self) -> None:
        self.opened_at = trio.current_time()
        self.trips += 1
        self._move(BreakerState.OPEN)

    def _move(self, to: BreakerState) -> None:
        before, self.state = self.state, to
        if before is not to:
            self.on_change(before, to)
