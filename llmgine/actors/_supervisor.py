"""Supervision: strategies, restart types, backoff, and the supervisor node."""

from __future__ import annotations

import difflib
import enum
import functools
import inspect
from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Union

import attrs
import trio

from .._exceptions import ConfigurationError, SupervisionError
from ..tracing import RecordKind
from ._actor import Actor
from ._breaker import CircuitBreaker
from ._mailbox import Mailbox

if TYPE_CHECKING:
    from ._cell import Cell
    from ._ref import ActorRef
    from ._system import ActorSystem

__all__ = [
    "SPAWN_OPTIONS",
    "Backoff",
    "ChildSpec",
    "bind_factory",
    "OneForAll",
    "OneForOne",
    "RestForOne",
    "Restart",
    "Strategy",
    "Supervisor",
    "SupervisorRef",
]


class Restart(enum.Enum):
    """When a supervisor starts a child again (Erlang/OTP restart types)."""

    #: Always: after an error or a normal exit.
    PERMANENT = "permanent"
    #: Only after an error.
    TRANSIENT = "transient"
    #: Never.
    TEMPORARY = "temporary"


def _non_negative(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigurationError(
            f"'{attribute.name}' must be a number >= 0 (got {value!r})"
        )


@attrs.frozen(kw_only=True)
class Backoff:
    """Wait between restarts: ``initial * multiplier ** (n - 1)``, capped at ``maximum``.

    ``n`` counts the restarts within the strategy's intensity window.
    """

    initial: float = attrs.field(default=0.05, validator=_non_negative)
    maximum: float = attrs.field(default=5.0, validator=_non_negative)
    multiplier: float = attrs.field(default=2.0, validator=_non_negative)

    def delay(self, attempt: int) -> float:
        """Seconds to wait before restart number ``attempt`` (1-based)."""
        try:
            grown = self.initial * float(self.multiplier) ** max(attempt - 1, 0)
        except OverflowError:  # far past the cap (a child restarted very often)
            return float(self.maximum)
        return float(min(grown, self.maximum))


def _max_restarts(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(
            f"'{attribute.name}' must be an int >= 0 (got {value!r})"
        )


def _within(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigurationError(
            f"'{attribute.name}' must be a positive number (got {value!r})"
        )


@attrs.frozen(kw_only=True)
class _StrategyBase:
    max_restarts: int = attrs.field(default=3, validator=_max_restarts)
    within: float = attrs.field(default=5.0, validator=_within)
    backoff: Backoff | None = None


@attrs.frozen(kw_only=True)
class OneForOne(_StrategyBase):
    """Restart only the child that failed."""


@attrs.frozen(kw_only=True)
class OneForAll(_StrategyBase):
    """Restart every child when one fails."""


@attrs.frozen(kw_only=True)
class RestForOne(_StrategyBase):
    """Restart the failed child and every child started after it."""


Strategy = Union[OneForOne, OneForAll, RestForOne]  # noqa: UP007


@attrs.frozen(kw_only=True)
class ChildSpec:
    """How to (re)start one actor."""

    name: str
    factory: Callable[[], Actor]
    mailbox: Mailbox
    restart: Restart
    breaker: CircuitBreaker | None


#: The keywords ``spawn`` keeps for itself; every other argument goes to the factory.
SPAWN_OPTIONS = ("name", "mailbox", "restart", "breaker")


def bind_factory(
    factory: object, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> Callable[[], Actor]:
    """The zero-argument factory a child keeps: ``factory`` with ``args``/``kwargs``.

    The arguments are checked against the factory's signature now, so a wrong
    call fails at ``spawn`` with :class:`~llmgine.ConfigurationError` naming
    the problem rather than at a later restart.
    """
    if isinstance(factory, Actor):
        kind = type(factory).__name__
        raise ConfigurationError(
            f"spawn takes the actor's class or another factory, not an instance"
            f" (got a {kind}): write spawn({kind}, *args, name=..., **kwargs),"
            " so that a restart can build a fresh instance"
        )
    if not callable(factory):
        raise ConfigurationError(
            f"'factory' must be a callable returning an Actor (got {factory!r})"
        )
    if not args and not kwargs:
        return factory
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # no signature to read: the call will tell
        signature = None
    if signature is not None:
        try:
            signature.bind(*args, **kwargs)
        except TypeError as exc:
            label = getattr(factory, "__qualname__", None) or repr(factory)
            raise ConfigurationError(
                f"cannot spawn {label}: {exc}{_option_hint(signature, kwargs)}"
            ) from None
    return functools.partial(factory, *args, **kwargs)


def _option_hint(signature: inspect.Signature, kwargs: Mapping[str, Any]) -> str:
    """``; did you mean spawn's 'restart'?`` for a misspelt spawn option."""
    params = signature.parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return ""
    for key in kwargs:
        if key not in params:
            close = difflib.get_close_matches(key, SPAWN_OPTIONS, n=1, cutoff=0.7)
            if close:
                return f" (did you mean spawn's option {close[0]!r}?)"
    return ""


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name or "/" in name:
        raise ConfigurationError(
            f"'name' must be a non-empty str without '/' (got {name!r})"
        )
    return name


Node = Union["Cell", "Supervisor"]


class Supervisor:
    """A supervisor node: starts, watches and restarts its children.

    Supervisors hold no mailbox of their own: failures reach them as calls from
    the failing child's task, so supervision never waits behind user messages.
    As in OTP, a supervisor handles one child exit at a time (a lock), a child
    is stopped completely before it is started again, and a failure reported
    by an incarnation that is no longer current is ignored. A restart of this
    supervisor by its parent supersedes a restart or a halt in progress here:
    that one notices after its next wait and gives way. Locks are only ever
    taken from a child towards its ancestors, so they cannot cycle.
    """

    def __init__(
        self,
        system: ActorSystem,
        parent: Supervisor | None,
        name: str,
        path: str,
        strategy: Strategy,
        *,
        restart: Restart = Restart.PERMANENT,
        owner: Cell | None = None,
    ) -> None:
        self.system = system
        self.parent = parent
        self.name = name
        self.path = path
        self.strategy = strategy
        self.restart = restart
        self.owner = owner
        self.children: dict[str, Node] = {}  # by name, in start order
        self.restarts = 0
        self.generation = 1
        self.running = False
        self.finalized = False
        self._times: deque[float] = deque()
        self._lock = trio.Lock()
        self.ref = SupervisorRef(self)

    # -- building the tree -----------------------------------------------------
    def _claim(self, name: object) -> str:
        self.system.nursery  # noqa: B018 - raises unless the system is running
        if self.finalized:
            raise ConfigurationError(f"supervisor {self.path} has stopped")
        checked = _check_name(name)
        if checked in self.children:
            raise ConfigurationError(f"{self.path} already has a child named {checked!r}")
        return checked

    def _add_cell(
        self,
        factory: Callable[[], Actor],
        name: str,
        mailbox: Mailbox | None,
        restart: Restart,
        breaker: CircuitBreaker | None,
    ) -> tuple[Cell, Actor]:
        from ._cell import Cell

        spec = ChildSpec(
            name=self._claim(name),
            factory=factory,
            mailbox=Mailbox() if mailbox is None else mailbox,
            restart=Restart(restart),
            breaker=breaker,
        )
        cell = Cell(self.system, self, spec)
        instance = cell.make()  # a factory that cannot build the actor fails here
        self.children[spec.name] = cell
        self.system.register(cell)
        self.system.event(RecordKind.ACTOR_SPAWNED, cell.path, {}, actor=cell.path)
        return cell, instance

    async def spawn(
        self,
        factory: Callable[..., Actor],
        *args: Any,
        name: str,
        mailbox: Mailbox | None = None,
        restart: Restart = Restart.PERMANENT,
        breaker: CircuitBreaker | None = None,
        **kwargs: Any,
    ) -> ActorRef:
        """Start a child actor under this supervisor and return its ref.

        ``factory(*args, **kwargs)`` builds each instance (see
        :meth:`ActorSystem.spawn`). The first instance is built and its
        ``on_start`` has run when this returns; if the factory or ``on_start``
        raises, this raises that error and nothing is restarted (as OTP's
        ``start_child``).
        """
        factory = bind_factory(factory, args, kwargs)
        cell, instance = self._add_cell(factory, name, mailbox, restart, breaker)
        cell.start(instance=instance, announce=True)
        error = await cell.wait_started()
        if error is not None:
            await cell.finalize()
            raise error
        return cell.ref

    def spawn_nowait(
        self,
        factory: Callable[..., Actor],
        *args: Any,
        name: str,
        mailbox: Mailbox | None = None,
        restart: Restart = Restart.PERMANENT,
        breaker: CircuitBreaker | None = None,
        **kwargs: Any,
    ) -> ActorRef:
        """Start a child actor without yielding; its ref is usable at once.

        The factory runs now (its error is raised here); ``on_start`` runs
        later, and a failing one is handled by this supervisor as any failure.
        """
        factory = bind_factory(factory, args, kwargs)
        cell, instance = self._add_cell(factory, name, mailbox, restart, breaker)
        cell.start(instance=instance)
        return cell.ref

    async def spawn_supervisor(self, name: str, **options: Any) -> SupervisorRef:
        """Start a child supervisor (trees of any depth)."""
        ref = self.spawn_supervisor_nowait(name, **options)
        await trio.lowlevel.checkpoint()
        return ref

    def spawn_supervisor_nowait(
        self,
        name: str,
        *,
        strategy: Strategy | None = None,
        restart: Restart = Restart.PERMANENT,
    ) -> SupervisorRef:
        """Start a child supervisor without yielding."""
        checked = self._claim(name)
        child = Supervisor(
            self.system,
            self,
            checked,
            f"{self.path}/{checked}",
            OneForOne() if strategy is None else strategy,
            restart=Restart(restart),
        )
        child.running = True
        self.children[checked] = child
        self.system.register(child)
        return child.ref

    def remove(self, child: Node) -> None:
        """Forget a child that stopped for good."""
        if self.children.get(child.name) is child:
            del self.children[child.name]
        self.system.unregister(child)

    # -- lifecycle (called by the parent) -------------------------------------
    def start(self, delay: float = 0.0) -> None:
        """Start every child again from its spec (same refs, same mailboxes)."""
        if self.finalized:
            return
        self.generation += 1
        self._times.clear()
        self.running = True
        for child in list(self.children.values()):
            if not child.running:  # a child spawned while this was halted runs already
                child.start(delay)

    async def halt(self) -> None:
        """Stop every child, in reverse start order, keeping their mailboxes.

        A halt superseded while it waited for a child (this supervisor was
        started again by its parent, or halted anew) stops there: the children
        left belong to what superseded it. Stopping children a new incarnation
        has just started would leave them down for good, as nothing reports a
        halted child.
        """
        self.running = False
        self.generation += 1  # supersedes a restart or a halt in progress here
        generation = self.generation
        for child in reversed(list(self.children.values())):
            if self.generation != generation:
                return
            await child.halt()

    async def finalize(self) -> None:
        """Stop every child for good, in reverse start order."""
        if self.finalized:
            return
        self.finalized = True
        self.running = False
        self.generation += 1
        for child in reversed(list(self.children.values())):
            await child.finalize()
        if self.owner is None and self.parent is not None:
            self.parent.remove(self)

    def close(self) -> None:
        """Close every mailbox below (never waits; used on cancellation)."""
        for child in list(self.children.values()):
            child.close()

    # -- failures --------------------------------------------------------------
    def _current(self, child: Node, generation: int) -> bool:
        """Whether a report from ``child``'s incarnation ``generation`` still counts."""
        return (
            not self.finalized
            and self.running
            and self.children.get(child.name) is child
            and child.generation == generation
            and not child.running
        )

    async def child_failed(
        self, child: Node, error: BaseException, generation: int
    ) -> None:
        """Incarnation ``generation`` of a child raised (or escalated): restart."""
        async with self._lock:
            if not self._current(child, generation):
                return
            if child.restart is Restart.TEMPORARY:
                await child.finalize()
                return
            await self._restart(child, error)

    async def child_exited(self, child: Node, generation: int) -> None:
        """A child exited normally (``context.stop()``)."""
        async with self._lock:
            if not self._current(child, generation):
                return
            if child.restart is not Restart.PERMANENT:
                await child.finalize()
                return
            await self._restart(child, None)

    async def _restart(self, child: Node, error: BaseException | None) -> None:
        strategy = self.strategy
        generation = self.generation
        now = trio.current_time()
        times = self._times
        times.append(now)
        while times and now - times[0] > strategy.within:
            times.popleft()
        if len(times) > strategy.max_restarts:
            await self._give_up(error)
            return
        delay = 0.0 if strategy.backoff is None else strategy.backoff.delay(len(times))
        if isinstance(strategy, OneForAll):
            targets = list(self.children.values())
        elif isinstance(strategy, RestForOne):
            names = list(self.children)
            targets = [self.children[n] for n in names[names.index(child.name) :]]
        else:
            targets = [child]
        for target in reversed(targets):
            await target.halt()
            if self.generation != generation:
                return  # an ancestor restarted (or stopped) this subtree meanwhile
        for target in targets:
            if not target.finalized and not target.running:
                target.restarts += 1
                target.start(delay)

    async def _give_up(self, error: BaseException | None) -> None:
        failure = SupervisionError(
            f"supervisor {self.path} gave up: more than"
            f" {self.strategy.max_restarts} restarts within {self.strategy.within}s"
        )
        failure.__cause__ = error
        self.system.event(RecordKind.ACTOR_FAILED, self.path, {}, error=failure)
        generation = self.generation
        await self.halt()
        if self.generation != generation + 1:
            return  # superseded while stopping: the ancestor's restart decides
        if self.owner is not None:
            owner = self.owner
            await owner.halt()
            await owner.parent.child_failed(owner, failure, owner.generation)
        elif self.parent is None:
            self.system.fail(failure)
        else:
            await self.parent.child_failed(self, failure, self.generation)


class SupervisorRef:
    """A handle to a supervisor: spawn children and nested supervisors under it."""

    __slots__ = ("_node",)

    def __init__(self, node: Supervisor) -> None:
        self._node = node

    def __repr__(self) -> str:
        return f"<SupervisorRef {self._node.path}>"

    @property
    def path(self) -> str:
        """The supervisor's path, like ``/app/llm``."""
        return self._node.path

    @property
    def name(self) -> str:
        """The supervisor's name among its siblings."""
        return self._node.name

    @property
    def restarts(self) -> int:
        """How many times this supervisor's subtree was restarted by its parent."""
        return self._node.restarts

    async def spawn(
        self, factory: Callable[..., Actor], *args: Any, **options: Any
    ) -> ActorRef:
        """Start a child actor (same arguments as :meth:`ActorSystem.spawn`)."""
        return await self._node.spawn(factory, *args, **options)

    async def spawn_supervisor(self, name: str, **options: Any) -> SupervisorRef:
        """Start a nested supervisor."""
        return await self._node.spawn_supervisor(name, **options)

    def spawn_nowait(
        self, factory: Callable[..., Actor], *args: Any, **options: Any
    ) -> ActorRef:
        """Start a child actor without yielding (for synchronous callers)."""
        return self._node.spawn_nowait(factory, *args, **options)

    def spawn_supervisor_nowait(self, name: str, **options: Any) -> SupervisorRef:
        """Start a nested supervisor without yielding."""
        return self._node.spawn_supervisor_nowait(name, **options)

    def children(self) -> list[str]:
        """The paths of the children, in start order."""
        return [child.path for child in self._node.children.values()]

    async def stop(self) -> None:
        """Stop the supervisor and its whole subtree for good."""
        await self._node.finalize()
