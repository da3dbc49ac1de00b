"""Chat sessions on the real stack: ChatEngine, ProviderActor, ToolActor, httpx chaos.

Each session is a supervisor holding a :class:`~llmgine.engines.ChatEngine`
and its :class:`~llmgine.tools.ToolActor`; the engines share a pool of
:class:`~llmgine.llm.ProviderActor`\\ s behind circuit breakers, each wrapping
an ``OpenAIProvider`` whose HTTP goes through a
:class:`~llmgine.testing.ChaosTransport` (429s, 5xx, 529s, timeouts and
truncated bodies, five times worse during the fault window). Every turn asks
for two tool calls, one of which fails now and then.
"""

from __future__ import annotations

import functools
import json
import random
import time

import attrs
import httpx
import trio
import trio.lowlevel

from llmgine._exceptions import LLMgineError
from llmgine.actors import CircuitBreaker, Mailbox, OneForOne
from llmgine.engines import ChatEngine, UserInput
from llmgine.llm import OpenAIProvider, ProviderActor, RetryPolicy
from llmgine.testing import ChaosTransport, FaultSchedule, FaultWindow
from llmgine.tools import ToolRegistry, spawn_tool_actor, tool

from ._harness import UNSURE
from ._run import Run

__all__ = ["chat_sessions"]


@attrs.frozen
class TrackedInput(UserInput):
    """A user input the ledger can follow (it has a ``seq`` and a send time)."""

    seq: int = attrs.field(default=-1, kw_only=True)
    sent_at: float = attrs.field(default=0.0, kw_only=True)


def _reply(request: httpx.Request) -> httpx.Response:
    """A mock OpenAI API: ask for two tools, then answer once their results are in."""
    messages = json.loads(request.content)["messages"]
    if messages[-1]["role"] == "tool":
        message: dict[str, object] = {"role": "assistant", "content": "Sunny everywhere."}
        finish = "stop"
    else:
        calls = [
            {
                "id": f"call_{name}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps({"city": "Paris"})},
            }
            for name in ("weather", "forecast")
        ]
        message = {"role": "assistant", "content": None, "tool_calls": calls}
        finish = "tool_calls"
    body = {
        "id": "chatcmpl-stress",
        "model": "stress-model",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25},
    }
    return httpx.Response(200, json=body)


def _tools(rng: random.Random) -> ToolRegistry:
    @tool
    async def weather(city: str) -> str:
        """The weather now.

        Args:
            city: City name.
        """
        await trio.lowlevel.checkpoint()
        return f"{city}: sunny"

    @tool
    async def forecast(city: str) -> str:
        """Tomorrow's weather (its backend fails now and then).

        Args:
            city: City name.
        """
        await trio.lowlevel.checkpoint()
        if rng.random() < 0.05:
            raise RuntimeError("forecast backend down")
        return f"{city}: sunny tomorrow"

    return ToolRegistry([weather, forecast])


async def chat_sessions(run: Run) -> None:
    """Short-lived sessions of real ChatEngines with tools on chaotic HTTP providers."""
    concurrency = run.pick(4, 30, 100)
    providers_n = run.pick(2, 4, 8)
    seconds = run.seconds(0.6, 2.5, 8.0)
    run.extra.update(actors=providers_n + 2 * concurrency)
    run.door_checks = False  # engines, providers and tools talk among themselves
    ledger = run.ledger
    registry = _tools(random.Random(run.rng.randrange(2**32)))
    schedule = FaultSchedule(windows=[FaultWindow(), FaultWindow(intensity=5.0)])
    transports: list[ChaosTransport] = []
    answered = failed = sessions = 0
    errors: dict[str, int] = {}
    strategy = OneForOne(max_restarts=10_000, within=1.0)
    async with run.system("chat", strategy=strategy) as system:
        pool = await system.spawn_supervisor("llm", strategy=strategy)
        providers = []
        for i in range(providers_n):
            chaos = ChaosTransport(
                inner=_reply,
                rate_limited=0.05,
                server_errors=0.03,
                overloaded=0.03,
                timeouts=0.01,
                truncated=0.02,
                schedule=schedule,
                seed=run.rng.randrange(2**32),
            )
            transports.append(chaos)
            provider = OpenAIProvider(
                api_key="sk-stress",
                client=httpx.AsyncClient(transport=chaos),
                retry=RetryPolicy.for_tests(max_attempts=3),
            )
            ref = await pool.spawn(
                functools.partial(ProviderActor, provider),
                name=f"p{i}",
                mailbox=Mailbox(capacity=1000),
                breaker=CircuitBreaker(max_failures=5, reset_timeout=0.05),
            )
            run.track_breaker(ref)
            providers.append(ref)
        schedule.windows = (
            FaultWindow(),
            FaultWindow(start=0.25 * seconds, end=0.6 * seconds, intensity=5.0),
        )
        schedule.anchor()
        now = run.now()
        run.fault_window(now + 0.25 * seconds, now + 0.6 * seconds)
        deadline = trio.current_time() + seconds

        async def session_loop(slot: int) -> None:
            nonlocal answered, failed, sessions
            k = 0
            while trio.current_time() < deadline:
                k += 1
                sessions += 1
                session = await system.spawn_supervisor(f"s{slot}-{k}")
                tools = await spawn_tool_actor(session, registry, name="tools")
                engine = await session.spawn(
                    functools.partial(
                        ChatEngine,
                        providers[(slot + k) % providers_n],
                        model="stress-model",
                        tools=tools,
                        max_steps=4,
                        turn_timeout=2.0,
                    ),
                    name="engine",
                )
                for _turn in range(1 + (slot + k) % 3):
                    job = ledger.new()
                    message = TrackedInput(
                        "Weather in Paris?", seq=job.seq, sent_at=time.perf_counter()
                    )
                    try:
                        await engine.ask(message)
                    except LLMgineError as exc:  # answered as a Failure: processed
                        failed += 1
                        errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                        ledger.done(message)
                    except Exception:  # a crash: the dead letters will say
                        ledger.fates[job.seq] |= UNSURE
                        failed += 1
                    else:
                        answered += 1
                        ledger.done(message)
                await session.stop()

        remaining = await run.run_sessions(system, concurrency, session_loop)
    injected = sum(t.statistics().injected for t in transports)
    run.extra.update(
        sessions=sessions, turns_ok=answered, turns_failed=failed, http_faults=injected
    )
    run.extra.update({f"error_{name}": n for name, n in sorted(errors.items())})
    run.expect(answered > 0, "no chat turn completed")
    run.expect(injected > 0, "the chaos transport injected nothing")
    run.expect(
        remaining == providers_n,
        f"{remaining - providers_n} session actors outlived their sessions",
    )
