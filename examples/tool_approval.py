"""Tool approval: the turn stops before a call that needs a human's yes.

``@tool(requires_approval=True)`` marks a tool whose calls must be approved.
When the model calls it, the turn runs the step's other calls, stops, and
answers a ``ChatResult`` whose ``pending_approvals`` lists the calls waiting.
``ApproveTools(approve=[...], deny={...})`` continues the turn: approved calls
run, denied ones give the model an error result with the reason.

With ``durable=True`` the pending approval is journalled in SQLite, so it
survives a restart: the second half stops in one actor system and is approved
in a new one (as a new process would be) on the same file.

Run: python examples/tool_approval.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import trio

from llmgine import ActorRef, ActorSystem, open_actor_system
from llmgine.engines import (
    ApproveTools,
    ChatEngine,
    Conversation,
    ResumeTurn,
    SQLiteConversationStore,
    UserInput,
)
from llmgine.llm import LLMResponse, ScriptedProvider
from llmgine.tools import tool

payments: list[str] = []


@tool
def get_balance(account: str) -> str:
    """Look up an account's balance.

    Args:
        account: The account name.
    """
    return f"{account}: 1,250.00 EUR"


@tool(requires_approval=True)
def pay(to: str, euros: int) -> str:
    """Pay someone.

    Args:
        to: Who gets the money.
        euros: How much.
    """
    payments.append(f"{euros} EUR to {to}")
    return f"paid {euros} EUR to {to}"


def pay_step(to: str) -> LLMResponse:
    """The model checks the balance and pays, in one step."""
    return ScriptedProvider.tool_calls(
        ("get_balance", {"account": "main"}),
        ("pay", {"to": to, "euros": 40}),
        text=f"Checking the balance and paying {to}.",
    )


async def engine_on(
    system: ActorSystem, provider: ScriptedProvider, path: Path
) -> ActorRef:
    return await system.spawn(
        ChatEngine,
        provider,
        model="any-model",
        tools=[get_balance, pay],
        conversation=Conversation("billing", store=SQLiteConversationStore(path)),
        durable=True,
        name="billing",
    )


async def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "billing.sqlite3"

        # 1. approve in the same system
        async with open_actor_system("first") as system:
            provider = ScriptedProvider([pay_step("Ada"), "Paid Ada 40 EUR."])
            engine = await engine_on(system, provider, path)
            result = await engine.ask(UserInput("Pay Ada 40 euros."), timeout=60)
            [waiting] = result.pending_approvals
            print(f"waiting: {waiting.name}({waiting.arguments}) id={waiting.id}")
            print(f"payments before approval: {payments}")
            result = await engine.ask(ApproveTools(approve=[waiting.id]), timeout=60)
            print(f"approved: {result.text} payments: {payments}")

            # 2. a denial: the model reads the reason
            provider.add(pay_step("Bob"), "Understood, I did not pay Bob.")
            result = await engine.ask(UserInput("Pay Bob 40 euros."), timeout=60)
            [waiting] = result.pending_approvals
            result = await engine.ask(
                ApproveTools(deny={waiting.id: "Bob is not a known payee"}), timeout=60
            )
            told = provider.requests[-1].messages[-1].parts[0]
            print(f"denied: the model was told {told.content!r}")
            print(f"model: {result.text}")

            # 3. stop here, and approve after a restart
            provider.add(pay_step("Ada"))
            result = await engine.ask(UserInput("Pay Ada 40 euros again."), timeout=60)
            print(f"waiting before the restart: {len(result.pending_approvals)} call")

        async with open_actor_system("second") as system:
            engine = await engine_on(system, ScriptedProvider(["Paid again."]), path)
            again = await engine.ask(ResumeTurn(), timeout=60)  # what is waiting?
            [waiting] = again.pending_approvals
            result = await engine.ask(ApproveTools(approve=[waiting.id]), timeout=60)
            print(f"after the restart: {result.text} payments: {payments}")


if __name__ == "__main__":
    trio.run(main)
