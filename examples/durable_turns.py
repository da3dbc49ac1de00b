"""Durable chat turns: a process killed mid-turn, the turn resumed by the next one.

``ChatEngine(..., durable=True)`` journals each turn in the conversation's
SQLite file as it goes: the user's input, each reply of the model, each tool
call as it starts and as it finishes. Here a first process charges a card,
then dies (``kill -9``) while sending the receipt. The next process finds the
unfinished turn and resumes it with ``ResumeTurn()``: the card is not charged
again, and since ``send_receipt`` is not declared ``@tool(idempotent=True)``
the model is told its outcome is unknown instead of it running twice.

Run: python examples/durable_turns.py
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from pathlib import Path

import trio

from llmgine import EngineError, open_actor_system
from llmgine.engines import (
    AbandonTurn,
    ChatEngine,
    Conversation,
    ResumeTurn,
    SQLiteConversationStore,
    UserInput,
)
from llmgine.llm import LLMResponse, Message, ScriptedProvider, ToolCallPart
from llmgine.tools import ToolRegistry, tool


def tools(folder: Path, *, die_in_receipt: bool) -> ToolRegistry:
    """The shop's tools; each run is written to ``folder/effects.txt``."""

    def record(line: str) -> None:
        with open(folder / "effects.txt", "a", encoding="utf-8") as file:
            file.write(line + "\n")

    @tool
    def charge_card(amount: int) -> str:
        """Charge the customer's card.

        Args:
            amount: Amount in cents.
        """
        record(f"charged {amount}")
        return f"charged {amount} cents"

    @tool
    def send_receipt(email: str) -> str:
        """Email the receipt.

        Args:
            email: Where to send it.
        """
        record(f"receipt to {email}")
        if die_in_receipt:  # the process dies here: no cleanup, no result
            os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))
        return "sent"

    @tool(idempotent=True)
    def order_status(order: str) -> str:
        """Look up an order (reading twice is harmless).

        Args:
            order: Order id.
        """
        return f"order {order}: paid"

    return ToolRegistry([charge_card, send_receipt, order_status])


def step(name: str, **arguments: object) -> LLMResponse:
    """A scripted model reply calling one tool."""
    call = ToolCallPart(id=f"call-{name}", name=name, arguments=arguments)
    return LLMResponse(message=Message(role="assistant", parts=[call]))


async def run(folder: Path, provider: ScriptedProvider, *, crash: bool) -> None:
    conversation = Conversation(
        "order-7", store=SQLiteConversationStore(folder / "chat.sqlite3")
    )
    async with open_actor_system("shop") as system:
        engine = await system.spawn(
            ChatEngine,
            provider,
            name="chat",
            model="m",
            tools=tools(folder, die_in_receipt=crash),
            conversation=conversation,
            durable=True,
        )
        if crash:
            await engine.ask(UserInput("Charge 500 cents and email the receipt."))
            return
        try:
            await engine.ask(UserInput("Hello again?"))
        except EngineError as exc:
            print("a new input is refused:", exc)
        result = await engine.ask(ResumeTurn())
        print(f"resumed: {result.text!r} after {result.steps} LLM calls")
        for message in result.messages:
            for part in message.parts:
                if message.role == "tool":
                    print(f"  tool result: {part.content[:60]}")
        print("model calls in this process:", len(provider.requests))
        await engine.ask(AbandonTurn())  # nothing left to abandon: a no-op


async def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--crash":
        provider = ScriptedProvider(
            [
                step("charge_card", amount=500),
                step("send_receipt", email="ada@example.com"),
            ]
        )
        await run(Path(sys.argv[2]), provider, crash=True)
        return
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        first = await trio.run_process(
            [sys.executable, __file__, "--crash", str(folder)], check=False
        )
        print("first process exit code:", first.returncode)
        print("effects so far:", (folder / "effects.txt").read_text().splitlines())
        provider = ScriptedProvider(
            ["Charged 500 cents. The receipt may not have gone out: please check."]
        )
        await run(folder, provider, crash=False)
        print("effects now:", (folder / "effects.txt").read_text().splitlines())


if __name__ == "__main__":
    trio.run(main)
