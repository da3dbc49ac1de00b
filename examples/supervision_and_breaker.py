"""A supervision tree with a circuit breaker.

``inventory`` crashes on a poisoned message and its supervisor restarts it (its
mailbox and ref survive the restart); ``payments`` sits behind a circuit
breaker: while its gateway is down, failures open the circuit, calls fail fast,
and after the reset timeout one trial call closes it again.

Run: python examples/supervision_and_breaker.py
"""

from __future__ import annotations

import attrs
import trio

from llmgine.actors import (
    Actor,
    Backoff,
    CircuitBreaker,
    CircuitOpenError,
    Failure,
    OneForOne,
    open_actor_system,
)


@attrs.frozen
class Reserve:
    """Reserve one unit of ``item``."""

    item: str


@attrs.frozen
class Charge:
    """Charge ``amount`` cents."""

    amount: int


class Inventory(Actor):
    """Keeps stock; a reservation of the poisoned item crashes it."""

    def __init__(self) -> None:
        self.stock = {"tea": 3, "cake": 1}

    async def on_start(self) -> None:
        print(f"  inventory started ({self.context.path})")

    async def receive(self, message: object) -> object:
        match message:
            case Reserve(item="poison"):
                raise ValueError("corrupted record")  # "I am broken: restart me"
            case Reserve(item=item):
                self.stock[item] -= 1
                return self.stock[item]
        return None


@attrs.define
class Gateway:
    """The outside service payments depend on."""

    down: bool = True


class Payments(Actor):
    """Charges through the gateway; answers errors as Failure (no restart needed)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def receive(self, message: object) -> object:
        if self.gateway.down:
            return Failure(ConnectionError("payment gateway unreachable"))
        assert isinstance(message, Charge)
        return f"charged {message.amount} cents"


async def main() -> None:
    gateway = Gateway()
    async with open_actor_system("shop") as system:
        backend = await system.spawn_supervisor(
            "backend",
            strategy=OneForOne(max_restarts=3, within=5.0, backoff=Backoff(initial=0.01)),
        )
        inventory = await backend.spawn(Inventory, name="inventory")
        payments = await backend.spawn(
            Payments,
            gateway,
            name="payments",
            breaker=CircuitBreaker(max_failures=2, reset_timeout=0.2),
        )
        print("tree:", backend.children())

        print("supervision:")
        print("  tea left:", await inventory.ask(Reserve("tea")))
        try:
            await inventory.ask(Reserve("poison"))
        except ValueError as error:
            print(f"  the asker gets the error: {error!r}")
        print(
            "  tea left:",
            await inventory.ask(Reserve("tea")),
            "(a fresh instance behind the same ref)",
        )
        print("  restarts:", inventory.statistics().restarts)

        print("circuit breaker:")
        for attempt in range(3):
            try:
                await payments.ask(Charge(100))
            except ConnectionError as error:
                print(f"  attempt {attempt}: {error}")
            except CircuitOpenError as error:
                print(f"  attempt {attempt}: failing fast: {error}")
        print("  breaker:", payments.statistics().breaker)
        gateway.down = False
        await trio.sleep(0.25)  # past reset_timeout: one trial passes
        print("  after the reset timeout:", await payments.ask(Charge(100)))
        print("  breaker:", payments.statistics().breaker)

        for letter in system.dead_letters.list():
            reason = letter.reason.value
            print(f"dead letter: {letter.message} -> {letter.recipient} ({reason})")


if __name__ == "__main__":
    trio.run(main)
