"""``llmgine demo``: supervision, a circuit breaker and tools, with the trace in view.

The story, in four acts, against one supervision tree:

1. a tool-using conversation (the weather in two cities, then arithmetic);
2. a crashing tool: the weather station crashes on its first Reykjavik
   reading, its supervisor restarts it, the model retries the call;
3. a 429 storm: the provider answers rate limits, its circuit breaker opens,
   the next turn fails fast, the breaker half-opens and the provider recovers;
4. a burst against a small ``DROP_OLDEST`` mailbox: the overflow goes to
   dead letters, which are redelivered, and the ledger balances.

Offline it plays an :class:`~llmgine.cli._offline.OfflineModel` through a
``ScriptedProvider``; with ``--provider`` the same story runs against the real
service (the 429s are injected in front of it).
"""

from __future__ import annotations

import argparse
import functools
import time
from typing import Any

import attrs
import trio
from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from .._exceptions import CircuitOpenError, ProviderError
from ..actors import (
    Actor,
    CircuitBreaker,
    Mailbox,
    OneForOne,
    Overflow,
    open_actor_system,
)
from ..engines import ChatEngine, ChatResult, Conversation, UserInput
from ..llm import ProviderActor
from ..observability import RecordKind, TraceHandler, Tracer
from ..testing import faulty
from ..tools import spawn_tool_actor
from ._common import CLIError, default_model, live_provider, llm_calls, make_tracer
from ._offline import Reading, WeatherStation, make_registry, offline_provider
from ._report import Storm, Tally, Timeline, render_summary, render_tree

__all__ = ["AuditEvent", "AuditLog", "demo", "run_demo"]

#: What the console shows unless ``--verbose``: the records that tell the story.
_STORY_KINDS = (
    RecordKind.ACTOR_RESTARTED,
    RecordKind.ACTOR_FAILED,
    RecordKind.BREAKER,
    RecordKind.DEAD_LETTER,
    RecordKind.LLM_CALL,
    RecordKind.TOOL_CALL,
    RecordKind.ENGINE_RUN,
)
_RESET = 0.25  # the breaker's reset timeout: short, so the demo stays short
_TURN_TIMEOUT = 60.0


@attrs.frozen
class AuditEvent:
    """Something worth an audit record."""

    n: int


class AuditLog(Actor):
    """Keeps the audit events it is told (a slow consumer behind a small mailbox)."""

    def __init__(self) -> None:
        self.events: list[object] = []

    async def receive(self, message: Any) -> Any:
        """Keep ``message``; answer ``None`` with how many events are kept."""
        if message is not None:
            self.events.append(message)
        return len(self.events)


class _Story:
    """Narration interleaved with the trace: the trace so far before each line."""

    def __init__(
        self, console: Console, tracer: Tracer, timeline: Timeline | None = None
    ) -> None:
        self.console = console
        self.tracer = tracer
        self.timeline = timeline

    def flush(self) -> None:
        self.tracer.flush()
        if self.timeline is not None:
            self.timeline.emit()

    def act(self, title: str) -> None:
        self.flush()
        self.console.print()
        self.console.rule(f"[bold]{title}", align="left")

    def say(self, text: str | Text, style: str = "") -> None:
        self.flush()
        self.console.print(Text(text, style) if isinstance(text, str) else text)

    def user(self, text: str) -> None:
        self.say(Text.assemble(("you ▸ ", "bold green"), text))

    def reply(self, result: ChatResult) -> None:
        self.flush()
        usage = result.usage
        self.console.print(Text.assemble(("llm ▸ ", "bold magenta"), result.text))
        self.console.print(
            f"  {llm_calls(result.steps)}, tokens in={usage.input_tokens}"
            f" out={usage.output_tokens}",
            style="dim",
        )


async def _turn(story: _Story, engine: Any, text: str) -> ChatResult:
    story.user(text)
    result: ChatResult = await engine.ask(UserInput(text), timeout=_TURN_TIMEOUT)
    story.reply(result)
    return result


async def demo(
    console: Console,
    *,
    provider_name: str = "scripted",
    model: str | None = None,
    trace_path: str | None = None,
    verbose: bool = False,
    quiet: bool = False,
) -> Tally:
    """Run the demo's story and return what was counted (also printed)."""
    started = time.perf_counter()
    inner = (
        offline_provider()
        if provider_name == "scripted"
        else live_provider(provider_name)
    )
    storm = Storm(inner)
    chosen = default_model(provider_name, model)
    tally = Tally()
    timeline = None
    if not quiet:
        timeline = Timeline(  # its own console shows the conversation
            console,
            kinds=None if verbose else _STORY_KINDS,
            brief=not verbose,
            capture_content=True,
        )
    handlers: list[TraceHandler] = [tally] if timeline is None else [tally, timeline]
    # LLMGINE_TRACE's handlers too; every trace kept, as the summary counts them
    tracer = make_tracer(handlers, trace_path=trace_path, sampled=False)
    assert tracer is not None  # it has the tally at least
    story = _Story(console, tracer, timeline)
    where = (
        "offline (scripted provider)" if provider_name == "scripted" else provider_name
    )
    console.print(
        Panel.fit(
            f"[bold]llmgine demo[/] — {where}, model [cyan]{chosen}[/]\n"
            "supervised actors, a circuit breaker, tools, and the trace as it happens",
            border_style="cyan",
        )
    )
    async with open_actor_system("demo", tracer=tracer, shutdown_timeout=2.0) as system:
        app = await system.spawn_supervisor(
            "app", strategy=OneForOne(max_restarts=5, within=10.0)
        )
        services = await app.spawn_supervisor("services")
        glitched: set[str] = set()

        def first_reykjavik(message: object) -> bool:
            if isinstance(message, Reading) and message.city not in glitched:
                glitched.add(message.city)
                return message.city == "Reykjavik"
            return False

        station = await services.spawn(
            faulty(
                WeatherStation,
                crash_on=first_reykjavik,
                error=lambda _, message: RuntimeError(
                    f"sensor glitch reading {message.city}"
                ),
            ),
            name="station",
        )
        audit = await services.spawn(
            AuditLog,
            name="audit",
            mailbox=Mailbox(capacity=4, overflow=Overflow.DROP_OLDEST),
        )
        llm = await app.spawn_supervisor("llm")
        provider = await llm.spawn(
            functools.partial(ProviderActor, storm),
            name="provider",
            breaker=CircuitBreaker(max_failures=3, reset_timeout=_RESET),
        )
        tools = await spawn_tool_actor(app, make_registry(station), name="tools")
        conversation = Conversation()
        engine = await app.spawn(
            ChatEngine,
            provider,
            model=chosen,
            tools=tools,
            system_prompt="You are a weather assistant. Use the tools; be brief.",
            max_steps=6,
            conversation=conversation,
            name="chat",
        )
        render_tree(console, system, _descriptions(system.path))

        story.act("1 · a conversation with tools")
        await _turn(
            story,
            engine,
            "What's the weather in Paris and Tokyo, and how much warmer is it in one?",
        )

        story.act("2 · a tool crashes: its supervisor restarts it")
        await _turn(story, engine, "And the weather in Reykjavik?")
        restarts = station.statistics().restarts
        story.say(
            f"the station was restarted (restarts: {restarts}); the reading it crashed"
            " on is a dead letter (handler_failed); the model retried the call",
            "yellow",
        )

        story.act("3 · a 429 storm: the circuit breaker opens, fails fast, recovers")
        storm.arm(3)
        for attempt in range(1, 5):
            await _failing_turn(story, engine, f"Weather in London? (try {attempt})")
        story.say(f"waiting {_RESET}s for the breaker to half-open…", "dim")
        await trio.sleep(_RESET + 0.05)
        await _turn(story, engine, "Weather in London?")
        breaker = provider.statistics().breaker
        story.say(f"breaker is {breaker.value if breaker else '-'} again", "green")

        story.act("4 · a burst against a 4-slot DROP_OLDEST mailbox")
        for n in range(12):
            audit.tell_nowait(AuditEvent(n))
        await system.wait_until_idle()
        held = system.dead_letters.list()
        story.say(
            f"12 events told, {len(held)} dead letters held:"
            f" {_by_reason(system.dead_letters.by_reason)}"
        )
        redelivered = 0
        # in batches that fit the mailbox; stop when nothing more can go
        while batch := system.dead_letters.list()[:4]:
            sent = await system.dead_letters.redeliver(batch)
            await system.wait_until_idle()
            if not sent:
                break
            redelivered += sent
        kept = await audit.ask(None)
        story.say(
            f"redelivered {redelivered}; the audit log holds {kept} of the 12 events",
            "green",
        )
        tally.system = system.statistics()
        tally.dead_letters = dict(system.dead_letters.by_reason)
        tally.redelivered = redelivered
        story.flush()
    tally.elapsed = time.perf_counter() - started
    tally.tracer = tracer.statistics()
    render_summary(console, tally)
    console.print(
        Text(
            "next: llmgine chat · llmgine demo --trace demo.jsonl, then llmgine trace"
            " demo.jsonl · llmgine stress --quick",
            "dim",
        )
    )
    return tally


async def _failing_turn(story: _Story, engine: Any, text: str) -> None:
    story.user(text)
    try:
        await engine.ask(UserInput(text), timeout=_TURN_TIMEOUT)
    except ProviderError as exc:
        status = f" (HTTP {exc.status})" if exc.status else ""
        story.say(f"  ✗ {type(exc).__name__}{status}: the turn was rolled back", "red")
    except CircuitOpenError as exc:
        story.say(f"  ✗ CircuitOpenError: {exc}: failed fast, no call made", "bold red")
    else:
        story.say("  (the turn went through)", "dim")


def _by_reason(counts: Any) -> str:
    return ", ".join(f"{reason.value} {n}" for reason, n in counts.items()) or "none"


def _descriptions(root: str) -> dict[str, str]:
    app = f"{root}/app"
    return {
        root: "root supervisor",
        app: "supervisor, one-for-one, at most 5 restarts in 10s",
        f"{app}/services": "supervisor",
        f"{app}/services/station": "WeatherStation, crashes on its first Reykjavik",
        f"{app}/services/audit": "AuditLog, mailbox of 4, DROP_OLDEST",
        f"{app}/llm": "supervisor",
        f"{app}/llm/provider": "ProviderActor, circuit breaker: 3 failures, reset 0.25s",
        f"{app}/tools": "ToolActor: get_weather, calculate",
        f"{app}/chat": "ChatEngine, at most 6 steps a turn",
    }


def run_demo(args: argparse.Namespace, console: Console) -> int:
    """``llmgine demo``: exit 1 when the real provider refuses (key, model, quota)."""
    if args.provider != "scripted":
        live_provider(args.provider)  # a missing key fails here, before anything runs
    try:
        trio.run(
            functools.partial(
                demo,
                console,
                provider_name=args.provider,
                model=args.model,
                trace_path=args.trace,
                verbose=args.verbose,
                quiet=args.quiet,
            )
        )
    except ProviderError as exc:
        raise CLIError(f"the {args.provider} provider failed: {exc}", code=1) from None
    return 0
