"""The message bus: commands, events, sessions, and failures that never take it down.

Every handler runs in its own supervised actor with a bounded mailbox. A
session scopes handlers to one conversation or request and removes them when
its block ends.

Run: python examples/message_bus_sessions.py
"""

from __future__ import annotations

import attrs
import trio

from llmgine import open_actor_system
from llmgine.bus import Command, CommandResult, Event, MessageBus, SessionEnded


@attrs.frozen(kw_only=True)
class PlaceOrder(Command):
    """Order ``quantity`` of ``item``."""

    item: str
    quantity: int = 1


@attrs.frozen(kw_only=True)
class OrderPlaced(Event):
    """An order went through."""

    item: str
    quantity: int


async def main() -> None:
    async with open_actor_system("shop") as system:
        bus = MessageBus(system)
        log: list[str] = []

        async def place(command: PlaceOrder) -> str:
            if command.quantity <= 0:
                raise ValueError(f"cannot order {command.quantity} {command.item}")
            await bus.publish(
                OrderPlaced(
                    item=command.item,
                    quantity=command.quantity,
                    session_id=command.session_id,
                )
            )
            return f"order for {command.quantity} {command.item}"

        bus.register_command_handler(PlaceOrder, place)
        bus.register_event_handler(OrderPlaced, lambda e: log.append(f"bus saw {e.item}"))
        bus.register_event_handler(SessionEnded, lambda e: log.append("session ended"))

        result: CommandResult = await bus.execute(PlaceOrder(item="tea", quantity=2))
        print("execute:", result.success, result.result)

        failed = await bus.execute(PlaceOrder(item="tea", quantity=0))
        print("a failing handler gives a failed result:", failed.success, failed.error)

        async with bus.session() as session:
            # a session-scoped handler for this session's events only
            session.register_event_handler(
                OrderPlaced, lambda e: log.append(f"session saw {e.item}")
            )
            await session.execute(PlaceOrder(item="cake"))
            await bus.wait_until_idle()
        await bus.execute(PlaceOrder(item="scones"))  # the session handler is gone
        await bus.wait_until_idle()

        for line in log:
            print(" ", line)
        stats = system.statistics()
        print(f"handler actors processed {stats.processed} messages, lost {stats.lost}")


if __name__ == "__main__":
    trio.run(main)
