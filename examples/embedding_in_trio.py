"""Embedding llmgine in an existing trio application.

The actor system is one more ``async with`` inside your own nurseries: your
tasks and the actors run side by side, cancelling your scope stops every actor,
and a failure that escalates past the root supervisor leaves the block as an
exception, like any trio child task would.

Run: python examples/embedding_in_trio.py
"""

from __future__ import annotations

import trio

from llmgine.actors import (
    Actor,
    ActorRef,
    OneForOne,
    SupervisionError,
    open_actor_system,
)


class Greeter(Actor):
    """Answers greetings."""

    async def receive(self, message: object) -> object:
        return f"hello, {message}"


class Fragile(Actor):
    """Crashes on every message: its supervisor will give up on it."""

    async def receive(self, message: object) -> object:
        raise RuntimeError(f"cannot handle {message!r}")


async def requests(greeter: ActorRef, received: list[str]) -> None:
    """Your own task: it talks to an actor through its ref, like any other object."""
    for n in range(1000):
        received.append(await greeter.ask(f"request {n}"))
        await trio.sleep(0.01)


async def cancellation() -> None:
    """Cancelling the surrounding scope stops the actors with everything else."""
    received: list[str] = []
    with trio.move_on_after(0.1) as scope:
        async with trio.open_nursery() as nursery, open_actor_system("web") as system:
            greeter = await system.spawn(Greeter, name="greeter")
            nursery.start_soon(requests, greeter, received)
            await trio.sleep_forever()  # the app's main loop
    print(f"cancelled: {scope.cancelled_caught}; handled {len(received)} requests")
    print(f"first reply: {received[0]!r}")


async def escalation() -> None:
    """A failure past the root's restart intensity surfaces as an exception."""
    try:
        async with open_actor_system(
            "jobs", strategy=OneForOne(max_restarts=2, within=1.0)
        ) as system:
            fragile = await system.spawn(Fragile, name="fragile")
            for n in range(5):
                fragile.tell_nowait(n)
            await trio.sleep_forever()  # ended by the system's failure
    except SupervisionError as error:
        print(f"the app sees: {type(error).__name__}: {error}")
        print(f"caused by: {error.__cause__!r}")


async def main() -> None:
    await cancellation()
    await escalation()


if __name__ == "__main__":
    trio.run(main)
