"""Fuzz: the bus handed odd objects.

``execute``, ``publish``, ``publish_nowait`` and the ``register_*`` methods,
of the bus and of a session, get anything: non-messages, messages with odd
session ids, priorities and metadata, odd handlers and types. Only
:class:`~llmgine.LLMgineError` is raised, and ``execute`` of a command always
answers a :class:`CommandResult`.
"""

from __future__ import annotations

from typing import Any

import attrs
import trio
from hypothesis import given
from hypothesis import strategies as st

from llmgine import LLMgineError, open_actor_system
from llmgine.bus import Command, CommandResult, Event, MessageBus

from ._strategies import fuzz, json_values


@attrs.frozen(kw_only=True)
class Ping(Command):
    payload: object = None


@attrs.frozen(kw_only=True)
class Seen(Event):
    payload: object = None


odd = st.one_of(
    json_values,
    st.sampled_from([object(), b"x", Ping, Seen, int, print, float("nan"), -1, 10**30]),
)
messages = st.one_of(
    odd,
    st.builds(Ping, session_id=odd | st.just("BUS"), payload=json_values),
    st.builds(Seen, session_id=odd | st.just("BUS"), payload=json_values),
    st.builds(Ping, priority=odd),
    st.builds(Seen, priority=odd),
    st.builds(Ping, metadata=odd),
)
OPERATIONS = (
    "execute",
    "publish",
    "publish_nowait",
    "register_command",
    "register_event",
    "session_execute",
    "session_publish",
)


async def _operate(operations: list[tuple[str, Any, Any]]) -> None:
    async with open_actor_system("fuzz") as system:
        bus = MessageBus(system)
        bus.register_command_handler(Ping, lambda command: command.payload)
        bus.register_event_handler(Seen, lambda event: None)
        async with bus.session() as session:
            for name, value, extra in operations:
                try:
                    if name == "execute":
                        result = await bus.execute(value)
                        assert isinstance(result, CommandResult)
                    elif name == "publish":
                        await bus.publish(value)
                    elif name == "publish_nowait":
                        bus.publish_nowait(value)
                    elif name == "register_command":
                        bus.register_command_handler(value, extra, session_id=extra)
                    elif name == "register_event":
                        bus.register_event_handler(value, extra, priority=extra)
                    elif name == "session_execute":
                        result = await session.execute(value)
                        assert isinstance(result, CommandResult)
                    else:
                        await session.publish(value)
                except LLMgineError:
                    pass
        await bus.wait_until_idle()


@fuzz
@given(
    operations=st.lists(
        st.tuples(st.sampled_from(OPERATIONS), messages, odd), min_size=1, max_size=5
    )
)
def test_odd_objects_get_typed_errors_only(
    operations: list[tuple[str, Any, Any]],
) -> None:
    trio.run(_operate, operations)
