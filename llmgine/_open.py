"""``llmgine.open_actor_system``: the runtime's, tracing as ``LLMGINE_TRACE`` says.

The runtime (:func:`llmgine.actors.open_actor_system`) knows nothing of trace
handlers: it traces to the tracer it is given, or not at all. This entry point,
one layer up, reads ``LLMGINE_TRACE`` when no tracer is passed and hands the
tracer it describes down explicitly.
"""

from __future__ import annotations

import os
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

from .actors import open_actor_system as _open_runtime

if TYPE_CHECKING:
    from .actors import ActorSystem, DeadLetterStore, Strategy
    from .actors._system import Cluster
    from .tracing import TraceSink

__all__ = ["open_actor_system", "tracer_from_env"]


def tracer_from_env() -> TraceSink | None:
    """The tracer ``LLMGINE_TRACE`` asks for; its handlers load only when it is set."""
    if not os.environ.get("LLMGINE_TRACE", "").strip():
        return None
    from .observability import tracer_from_env as build

    return build()


def open_actor_system(
    name: str = "system",
    *,
    tracer: TraceSink | None = None,
    dead_letter_store: DeadLetterStore | None = None,
    dead_letter_capacity: int = 10_000,
    shutdown_timeout: float = 5.0,
    strategy: Strategy | None = None,
    cluster: Cluster | None = None,
) -> AbstractAsyncContextManager[ActorSystem]:
    """Run an actor system for the duration of the ``async with`` block.

    :func:`llmgine.actors.open_actor_system` with one difference: with no
    ``tracer``, the one the ``LLMGINE_TRACE`` variable describes is used
    (none when the variable is unset). Everything else is the runtime's.
    """
    return _open_runtime(
        name,
        tracer=tracer_from_env() if tracer is None else tracer,
        dead_letter_store=dead_letter_store,
        dead_letter_capacity=dead_letter_capacity,
        shutdown_timeout=shutdown_timeout,
        strategy=strategy,
        cluster=cluster,
    )
