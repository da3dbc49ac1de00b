"""Background work and deferred replies of a cell's current incarnation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import trio

from .._exceptions import ActorStopped, ConfigurationError
from ._dead_letters import DeadLetterReason
from ._deferred import Deferred
from ._envelope import Envelope
from ._settlement import Settlement

__all__ = ["Background"]


class Background(Settlement):
    """Tasks started beside the message loop, and replies given later."""

    if not TYPE_CHECKING:  # the slots are Cell's; mypy reads the annotations
        __slots__ = ()

    _task: trio.lowlevel.Task | None
    _scope: trio.CancelScope | None
    _killed: bool
    _work: set[trio.CancelScope] | None
    _background: int
    _background_idle: trio.Event | None
    _background_failure: Exception | None
    _deferred: set[Deferred] | None

    def start_soon(self, fn: Any, *args: Any, name: str | None = None) -> None:
        """Run ``fn(*args)`` beside the message loop, for this incarnation only.

        A :class:`Deferred` among ``args`` links the task to that reply: when the
        asker gives up, the task is cancelled.
        """
        if self._task is None:
            raise ConfigurationError(
                f"{self.path} is not running: background work needs a live actor"
            )
        deferred = next((a for a in args if type(a) is Deferred), None)
        if self._work is None:
            self._work = set()
        self._background += 1
        self.system.activity(+1)  # background work keeps the system busy
        self.system.nursery.start_soon(
            self._background_task, fn, args, self._work, deferred, name=name or fn
        )

    async def _background_task(
        self,
        fn: Any,
        args: tuple[Any, ...],
        work: set[trio.CancelScope],
        deferred: Deferred | None,
    ) -> None:
        scope = trio.CancelScope()
        work.add(scope)
        try:
            with scope:
                if deferred is None:
                    await fn(*args)
                else:
                    with deferred.cancel_scope():
                        await fn(*args)
            if deferred is not None and deferred.cancelled and not deferred.done:
                deferred.settle_cancelled()
        except Exception as exc:
            # The actor is failing: the incarnation ends and its supervisor decides.
            self.mark_active()
            if self._work is work and self._background_failure is None:
                self._background_failure = exc
                self._kill()
        finally:
            work.discard(scope)
            self._background -= 1
            self.system.activity(-1)
            if self._background == 0 and self._background_idle is not None:
                self._background_idle.set()

    async def _drain_background(self, *, graceful: bool) -> None:
        """Let background tasks end (within the shutdown timeout), then cancel them."""
        if not self._background:
            return
        if graceful:
            with trio.move_on_after(self.system.shutdown_timeout):
                await self._wait_background()
        if self._work is not None:
            for scope in list(self._work):
                scope.cancel()
        await self._wait_background()

    async def _wait_background(self) -> None:
        while self._background:
            self._background_idle = trio.Event()
            await self._background_idle.wait()
        self._background_idle = None

    def current_is_ask(self) -> bool:
        """Whether the message being handled is an ask."""
        item = self._current
        return type(item) is Envelope and item.reply is not None

    def defer(self) -> Deferred:
        """A reply to the message being handled, to be given later."""
        item = self._current
        reply = item.reply if type(item) is Envelope else None
        deferred = Deferred(self, item, reply)
        if self._deferred is None:
            self._deferred = set()
        self._deferred.add(deferred)
        return deferred

    def in_flight(self) -> int:
        """Deferred replies not yet given."""
        return 0 if self._deferred is None else len(self._deferred)

    def _kill(self) -> None:
        """End the incarnation brutally: cancel whatever it is doing now."""
        self._killed = True
        self._interrupt = True
        if self._scope is not None:
            self._scope.cancel()

    def _fail_deferred(self) -> None:
        pending, self._deferred = self._deferred, None
        if pending is None:
            return
        for deferred in pending:
            if deferred._settle():
                # Accepted and never answered: a dead letter, as a queued one.
                error = ActorStopped(f"{self.path} stopped before it answered")
                self.dead_letter(deferred._item, DeadLetterReason.ACTOR_STOPPED, error)
