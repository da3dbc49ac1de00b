"""The one place the bus reaches below the runtime's public API.

The bus's registration methods are synchronous (as llmgine's API always was),
while ``spawn`` is a coroutine only because it ends with a checkpoint: its work
is synchronous. These helpers do that work without the checkpoint, so a
handler actor is running (and its ref usable, even by ``publish_nowait``) the
moment ``register_*`` returns. Two more needs have no public form yet: filing
the message an actor is handling as a dead letter *without* restarting the
actor (a plain function has no state to rebuild), and asking whether
``tell_nowait`` would refuse a message, before sending it to anyone.

Everything here is covered by the bus tests, so a change of the runtime's
internals shows up there first.
"""

from __future__ import annotations

from collections.abc import Callable

from .._exceptions import ActorStopped, LLMgineError, MailboxFull
from ..actors import (
    Actor,
    ActorContext,
    ActorRef,
    ActorSystem,
    DeadLetterReason,
    Mailbox,
    Overflow,
    RecordKind,
    Restart,
    Strategy,
    SupervisorRef,
)
from ..actors._cell import Cell
from ..actors._supervisor import ChildSpec, OneForOne, Supervisor

__all__ = [
    "check_running",
    "dead_letter_current",
    "pending",
    "refusal",
    "spawn_now",
    "spawn_supervisor_now",
]


def spawn_supervisor_now(
    system: ActorSystem, name: str, strategy: Strategy | None = None
) -> SupervisorRef:
    """``await system.spawn_supervisor(name)`` without the checkpoint."""
    root = system.root
    checked = root._claim(name)
    node = Supervisor(
        system,
        root,
        checked,
        f"{root.path}/{checked}",
        OneForOne() if strategy is None else strategy,
    )
    node.running = True
    root.children.append(node)
    system.register(node)
    return node.ref


def spawn_now(
    supervisor: SupervisorRef,
    factory: Callable[[], Actor],
    *,
    name: str,
    mailbox: Mailbox,
) -> ActorRef:
    """``await supervisor.spawn(factory, name=name, mailbox=mailbox)``, synchronously."""
    node: Supervisor = supervisor._node
    system = node.system
    check_running(system)
    spec = ChildSpec(
        name=node._claim(name),
        factory=factory,
        mailbox=mailbox,
        restart=Restart.PERMANENT,
        breaker=None,
    )
    cell = Cell(system, node, spec)
    node.children.append(cell)
    system.register(cell)
    system.event(RecordKind.ACTOR_SPAWNED, cell.path, {}, actor=cell.path)
    cell.start()
    return cell.ref


def dead_letter_current(
    context: ActorContext, message: object, error: BaseException
) -> None:
    """File the message being handled as ``HANDLER_FAILED``, without a restart.

    Call it from ``receive`` and then return normally. The counters end up as
    if ``receive`` had raised (``failed`` and ``dead_lettered`` +1, not
    ``processed``), so ``accepted == processed + dead_lettered + queued`` still
    holds, and the letter in ``system.dead_letters`` is counted once.
    """
    cell: Cell = context._cell
    queue = cell.queue
    queue.failed += 1
    # The runtime counts the message as processed when receive returns; no
    # checkpoint lies between here and there, so nobody sees the dip.
    queue.processed -= 1
    cell.dead_letter(message, DeadLetterReason.HANDLER_FAILED, error)


def refusal(ref: ActorRef, extra: int = 0) -> LLMgineError | None:
    """What ``ref.tell_nowait`` would raise with ``extra`` more messages queued.

    ``ActorStopped`` for a stopped actor, ``MailboxFull`` for a full mailbox
    under ``BACKPRESSURE`` or ``REJECT``, None when the message would go in
    (the ``DROP_*`` policies take it and dead-letter one message instead).
    """
    queue = ref._queue
    if queue.closed:
        return ActorStopped(f"{ref.path} has stopped")
    if queue.size + extra >= queue.capacity and queue.overflow in (
        Overflow.BACKPRESSURE,
        Overflow.REJECT,
    ):
        return MailboxFull(f"mailbox of {ref.path} is full ({queue.capacity} messages)")
    return None


def pending(ref: ActorRef) -> int:
    """How many messages wait in ``ref``'s mailbox (cheaper than ``statistics()``)."""
    return len(ref._queue)


def check_running(system: ActorSystem) -> None:
    """Raise :class:`~llmgine.ConfigurationError` unless ``system`` is running."""
    system.nursery  # noqa: B018  (the property raises when the system is not running)
