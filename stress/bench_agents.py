"""Benchmark: what the agent loop costs the client, per turn, against peers.

Run: ``python -m stress.bench_agents [--quick] [--turns N] [--rounds N]
[--conversations N] [--no-peers]``; ``main(argv)`` returns the figures.

A local HTTP server speaking the OpenAI chat-completions wire runs in a
process of its own (so its CPU is not the client's). Every turn is the same
agent loop: the model calls ``get_weather``, then ``get_time``, then answers:
three requests, two tool calls. The clients, in one process, interleaved
round by round so machine load moves them alike:

* ``httpx``: a hand-written loop over ``httpx.AsyncClient`` on trio: the
  baseline, the least any framework on trio can cost;
* ``llmgine``: a ``ChatEngine`` actor on an ``OpenAICompatibleProvider``;
* ``openai``: a hand-written loop over the ``openai`` SDK on asyncio;
* ``pydantic_ai``: a pydantic-ai ``Agent`` (``pydantic-ai-slim[openai]``);
* ``openai_agents``: an OpenAI Agents SDK ``Agent`` (``openai-agents``, with
  its tracing off).

The last three run only when installed (benchmark-only:
``pip install 'pydantic-ai-slim[openai]' openai-agents``); a missing peer is
skipped and named. The figure is the client's CPU time per turn
(``time.process_time`` around each turn; set-up and tear-down excluded), the
median over the rounds, and its ratio to the ``httpx`` baseline (taken in
each round, then the median: the rounds pair the clients). Tools are
``async`` functions in every client, so no framework pays a thread hop.

Then the load test: ``--conversations`` concurrent conversations (1,000 by
default) against the server answering each request after 200 ms, for the
``httpx`` baseline and ``llmgine``, each in a fresh process so its peak RSS is
its own: turns per second and peak RSS. Both share one ``httpx.AsyncClient``
among every :data:`PER_CLIENT` conversations (httpx's pool slows down with
many requests in flight on one client).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import attrs
import httpx
import trio

from . import _child
from ._openai_wire import ANSWER, LATENCY, MODEL, QUESTION, TOOLS, Server

#: llmgine's client CPU per turn against the raw httpx loop's: the goal.
TARGET = 1.1


# -- the tools (async everywhere: no framework pays a thread hop) ------------------


async def get_weather(city: str) -> str:
    """Get the weather in a city.

    Args:
        city: City.
    """
    return f"21 C and sunny in {city}"


async def get_time(city: str) -> str:
    """Get the local time in a city.

    Args:
        city: City.
    """
    return f"noon in {city}"


FUNCTIONS: dict[str, Callable[..., Awaitable[str]]] = {
    "get_weather": get_weather,
    "get_time": get_time,
}


def _client(connections: int = 100) -> httpx.AsyncClient:
    limits = httpx.Limits(
        max_connections=connections, max_keepalive_connections=connections
    )
    return httpx.AsyncClient(limits=limits, timeout=60.0)


# -- the clients: each returns a coroutine function running one turn -----------------


async def _raw_turn(client: httpx.AsyncClient, url: str) -> str:
    """The baseline: the agent loop written by hand over httpx."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": QUESTION}]
    while True:
        response = await client.post(
            f"{url}/chat/completions",
            json={"model": MODEL, "messages": messages, "tools": TOOLS},
            headers={"authorization": "Bearer sk-bench"},
        )
        response.raise_for_status()
        message = response.json()["choices"][0]["message"]
        messages.append(message)
        calls = message.get("tool_calls")
        if not calls:
            return str(message["content"])
        for call in calls:
            function = call["function"]
            result = await FUNCTIONS[function["name"]](
                **json.loads(function["arguments"])
            )
            messages.append(
                {"role": "tool", "tool_call_id": call["id"], "content": result}
            )


async def _run_httpx(url: str, turns: int) -> list[float]:
    async with _client() as client:
        await _raw_turn(client, url)  # warm the connection
        return [await _timed(_raw_turn(client, url)) for _ in range(turns)]


async def _run_llmgine(url: str, turns: int) -> list[float]:
    from llmgine import ChatEngine, ClearConversation, UserInput, open_actor_system
    from llmgine.llm import OpenAICompatibleProvider
    from llmgine.tools import tool

    async with _client() as client, open_actor_system("bench") as system:
        provider = OpenAICompatibleProvider(
            base_url=url, api_key="sk-bench", client=client
        )
        engine = await system.spawn(
            ChatEngine,
            provider,
            name="chat",
            model=MODEL,
            tools=[tool(get_weather), tool(get_time)],
        )

        async def turn() -> str:
            result = await engine.ask(UserInput(QUESTION))
            return str(result.text)

        await turn()
        times = []
        for _ in range(turns):
            await engine.ask(ClearConversation())
            times.append(await _timed(turn()))
        return times


async def _run_openai(url: str, turns: int) -> list[float]:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=url, api_key="sk-bench")

    async def turn() -> str:
        messages: list[Any] = [{"role": "user", "content": QUESTION}]
        while True:
            completion = await client.chat.completions.create(
                model=MODEL, messages=messages, tools=TOOLS
            )
            message = completion.choices[0].message
            messages.append(message.model_dump(exclude_none=True))
            if not message.tool_calls:
                return str(message.content)
            for call in message.tool_calls:
                arguments = json.loads(call.function.arguments)
                result = await FUNCTIONS[call.function.name](**arguments)
                messages.append(
                    {"role": "tool", "tool_call_id": call.id, "content": result}
                )

    try:
        await turn()
        return [await _timed(turn()) for _ in range(turns)]
    finally:
        await client.close()


async def _run_pydantic_ai(url: str, turns: int) -> list[float]:
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    model = OpenAIChatModel(MODEL, provider=OpenAIProvider(base_url=url, api_key="sk"))
    agent = Agent(model, tools=[get_weather, get_time])

    async def turn() -> str:
        return str((await agent.run(QUESTION)).output)

    await turn()
    return [await _timed(turn()) for _ in range(turns)]


async def _run_openai_agents(url: str, turns: int) -> list[float]:
    from agents import (
        Agent,
        OpenAIChatCompletionsModel,
        Runner,
        function_tool,
        set_tracing_disabled,
    )
    from openai import AsyncOpenAI

    set_tracing_disabled(True)
    client = AsyncOpenAI(base_url=url, api_key="sk-bench")
    agent = Agent(
        name="bench",
        instructions="Answer with the tools.",
        model=OpenAIChatCompletionsModel(model=MODEL, openai_client=client),
        tools=[function_tool(get_weather), function_tool(get_time)],
    )

    async def turn() -> str:
        return str((await Runner.run(agent, QUESTION)).final_output)

    try:
        await turn()
        return [await _timed(turn()) for _ in range(turns)]
    finally:
        await client.close()


async def _timed(turn: Awaitable[str]) -> float:
    start = time.process_time()
    text = await turn
    elapsed = time.process_time() - start
    if text != ANSWER:
        raise RuntimeError(f"a turn answered {text!r}, not the scripted answer")
    return elapsed


#: name -> (runner, event loop, the modules it needs)
CLIENTS: dict[
    str, tuple[Callable[[str, int], Awaitable[list[float]]], str, tuple[str, ...]]
]
CLIENTS = {
    "httpx": (_run_httpx, "trio", ()),
    "llmgine": (_run_llmgine, "trio", ()),
    "openai": (_run_openai, "asyncio", ("openai",)),
    "pydantic_ai": (_run_pydantic_ai, "asyncio", ("pydantic_ai",)),
    "openai_agents": (_run_openai_agents, "asyncio", ("agents", "openai")),
}


def available(peers: bool = True) -> tuple[list[str], list[str]]:
    """The clients to run, and the peers skipped because they are not installed."""
    import importlib.util

    present, missing = [], []
    for name, (_, _, modules) in CLIENTS.items():
        if modules and not peers:
            continue
        if all(importlib.util.find_spec(m) is not None for m in modules):
            present.append(name)
        else:
            missing.append(name)
    return present, missing


def run_client(name: str, url: str, turns: int) -> list[float]:
    """Seconds of client CPU for each of ``turns`` turns of client ``name``."""
    runner, loop, _ = CLIENTS[name]
    if loop == "trio":
        return trio.run(runner, url, turns)
    return asyncio.run(runner(url, turns))  # type: ignore[arg-type]


# -- the load test --------------------------------------------------------------------


#: Conversations sharing one ``httpx.AsyncClient`` in the load test. httpx's
#: connection pool slows down as the requests in flight on one client grow
#: (on this wire: ~1,500 requests/s at 1, ~60/s at 200), so a client serves a
#: few conversations, as a deployment would shard them, in both clients alike.
PER_CLIENT = 10


@contextlib.asynccontextmanager
async def _clients(conversations: int) -> AsyncIterator[list[httpx.AsyncClient]]:
    """One client per :data:`PER_CLIENT` conversations, closed at the end."""
    async with contextlib.AsyncExitStack() as stack:
        count = max(1, -(-conversations // PER_CLIENT))
        yield [await stack.enter_async_context(_client(PER_CLIENT)) for _ in range(count)]


async def _load_httpx(url: str, conversations: int, turns: int) -> float:
    async with _clients(conversations) as clients:
        start = time.perf_counter()
        async with trio.open_nursery() as nursery:
            for i in range(conversations):

                async def talk(client: httpx.AsyncClient) -> None:
                    for _ in range(turns):
                        await _raw_turn(client, url)

                nursery.start_soon(talk, clients[i // PER_CLIENT])
        return time.perf_counter() - start


async def _load_llmgine(url: str, conversations: int, turns: int) -> float:
    from llmgine import ChatEngine, ClearConversation, UserInput, open_actor_system
    from llmgine.llm import OpenAICompatibleProvider
    from llmgine.tools import ToolRegistry, tool

    tools = ToolRegistry([tool(get_weather), tool(get_time)])
    async with _clients(conversations) as clients, open_actor_system("load") as system:
        providers = [
            OpenAICompatibleProvider(base_url=url, api_key="sk-bench", client=client)
            for client in clients
        ]
        engines = [
            await system.spawn(
                ChatEngine,
                providers[i // PER_CLIENT],
                name=f"chat{i}",
                model=MODEL,
                tools=tools,
            )
            for i in range(conversations)
        ]
        start = time.perf_counter()
        async with trio.open_nursery() as nursery:
            for engine in engines:

                async def talk(engine: Any = engine) -> None:
                    for _ in range(turns):
                        await engine.ask(UserInput(QUESTION))
                        await engine.ask(ClearConversation())

                nursery.start_soon(talk)
        return time.perf_counter() - start


def load(name: str, url: str, conversations: int, turns: int) -> tuple[float, float]:
    """In a fresh process: run the load; turns/s and peak RSS (MiB).

    The rate counts from the first turn to the last (set-up excluded).
    """
    run = {"httpx": _load_httpx, "llmgine": _load_llmgine}[name]
    elapsed = trio.run(run, url, conversations, turns)
    return conversations * turns / elapsed, peak_rss_mib()


def peak_rss_mib() -> float:
    """This process's peak resident memory, MiB.

    ``VmHWM`` where there is one: unlike ``ru_maxrss`` it starts afresh at
    ``exec``, so it does not count the parent the process was forked from.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024  # pragma: no cover
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale  # pragma: no cover


def load_test(name: str, url: str, conversations: int, turns: int) -> tuple[float, float]:
    """Turns per second and peak RSS (MiB) of ``name`` under the load."""
    rate, peak = _child.run(__name__, "load", name, url, conversations, turns)
    return float(rate), float(peak)


# -- the report ----------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Figures:
    """Median client CPU per turn (seconds) by client, and the load test's figures."""

    per_turn: dict[str, float]
    skipped: tuple[str, ...]
    conversations: int
    turns_per_s: dict[str, float]
    peak_rss_mib: dict[str, float]
    #: Each client's ratio to the httpx loop, round by round, the median:
    #: paired within a round, so the machine slowing down between rounds
    #: moves both sides of a ratio alike.
    paired: dict[str, float] = attrs.Factory(dict)

    def ratio(self, name: str) -> float:
        """``name``'s CPU per turn over the raw httpx loop's."""
        if name in self.paired:
            return self.paired[name]
        return self.per_turn[name] / self.per_turn["httpx"]


def measure(
    *, turns: int, rounds: int, conversations: int, load_turns: int, peers: bool
) -> Figures:
    """Run every client present, then the load test."""
    names, skipped = available(peers)
    server = Server()
    try:
        samples: dict[str, list[float]] = {name: [] for name in names}
        for _ in range(rounds):
            for name in names:
                times = run_client(name, server.url(), turns)
                samples[name].append(statistics.median(times))
        per_turn = {name: statistics.median(values) for name, values in samples.items()}
        paired = {
            name: statistics.median(
                mine / base for mine, base in zip(values, samples["httpx"], strict=True)
            )
            for name, values in samples.items()
        }
        rates: dict[str, float] = {}
        peaks: dict[str, float] = {}
        if conversations:
            for name in ("httpx", "llmgine"):
                rate, peak = load_test(
                    name, server.url(slow=True), conversations, load_turns
                )
                rates[name], peaks[name] = rate, peak
    finally:
        server.close()
    return Figures(
        per_turn=per_turn,
        skipped=tuple(skipped),
        conversations=conversations,
        turns_per_s=rates,
        peak_rss_mib=peaks,
        paired=paired,
    )


def report(figures: Figures) -> None:
    """Print the figures, each beside the raw httpx loop's."""
    print("agent loop: client CPU per turn (2 tool calls, then an answer; 3 requests)")
    for name, seconds in figures.per_turn.items():
        ratio = figures.ratio(name)
        print(f"  {name:<14} {seconds * 1e3:7.3f} ms/turn  {ratio:5.2f}x raw httpx")
    for name in figures.skipped:
        print(f"  {name:<14} skipped: not installed")
    if figures.turns_per_s:
        print(
            f"load: {figures.conversations} concurrent conversations,"
            f" server latency {LATENCY * 1e3:.0f} ms a request"
        )
        for name in figures.turns_per_s:
            print(
                f"  {name:<14} {figures.turns_per_s[name]:8.0f} turns/s"
                f"  peak RSS {figures.peak_rss_mib[name]:6.0f} MiB"
            )
    verdict = "met" if figures.ratio("llmgine") <= TARGET else "NOT met"
    print(f"goal: llmgine <= {TARGET}x the raw httpx loop: {verdict}")


def results(figures: Figures) -> dict[str, float]:
    """The figures ``llmgine bench`` shows, by key."""
    out: dict[str, float] = {}
    for name in figures.per_turn:
        if name != "httpx":
            out[f"{name}_vs_httpx"] = figures.ratio(name)
    out["llmgine_turn_cpu_ms"] = figures.per_turn["llmgine"] * 1e3
    out["httpx_turn_cpu_ms"] = figures.per_turn["httpx"] * 1e3
    for name, rate in figures.turns_per_s.items():
        out[f"{name}_load_turns_per_s"] = rate
        out[f"{name}_load_peak_rss_mib"] = figures.peak_rss_mib[name]
    return out


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the benchmark, print its report and return the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument("--turns", type=int, help="turns per client per round")
    parser.add_argument("--rounds", type=int, help="rounds (interleaved)")
    parser.add_argument(
        "--conversations", type=int, help="concurrent conversations (0: no load test)"
    )
    parser.add_argument("--no-peers", action="store_true", help="skip the peers")
    args = parser.parse_args(argv)
    quick = args.quick
    figures = measure(
        turns=args.turns or (20 if quick else 100),
        rounds=args.rounds or (3 if quick else 7),
        conversations=(
            args.conversations
            if args.conversations is not None
            else (100 if quick else 1000)
        ),
        load_turns=2 if quick else 3,
        peers=not args.no_peers,
    )
    report(figures)
    return results(figures)


if __name__ == "__main__":
    main(sys.argv[1:])
